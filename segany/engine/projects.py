"""Projects, membership and images; `check_access` is the one place that says who may do what.

Roles: an admin may do everything in every project. Other users see only projects they are members of;
annotators add images and annotate, reviewers decide on proposed masks; both may read and export.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from segany.engine.blobs import BlobStore
from segany.engine.errors import Conflict, Forbidden, Invalid, NotFound
from segany.engine.models import Image, Membership, Project, User

# action -> roles allowed (members only, admins always)
PERMISSIONS = {
    "read": ("annotator", "reviewer"),
    "annotate": ("annotator",),
    "review": ("reviewer",),
    "add_images": ("annotator",),
    "manage": (),  # members, jobs, imports: admins only
}
MAX_NAME_CHARS = 128


def create_project(db: Session, name: str) -> Project:
    name = name.strip()
    if not (0 < len(name) <= MAX_NAME_CHARS):
        raise Invalid(f"name must be 1..{MAX_NAME_CHARS} characters, got {len(name)}", "name")
    if db.scalar(select(Project).where(Project.name == name)) is not None:
        raise Conflict(f"a project named {name!r} exists", "name")
    project = Project(name=name)
    db.add(project)
    db.flush()
    return project


def add_member(db: Session, project: Project, user: User) -> None:
    if db.get(Membership, (project.id, user.id)) is None:
        db.add(Membership(project_id=project.id, user_id=user.id))
        db.flush()


def is_member(db: Session, project_id: int, user: User) -> bool:
    return db.get(Membership, (project_id, user.id)) is not None


def check_access(db: Session, user: User, project_id: int, action: str) -> Project:
    """The project when `user` may do `action` in it; NotFound for projects the user may not even see (an
    outsider learns nothing about which ids exist), Forbidden for a member whose role lacks the action."""
    project = db.get(Project, project_id)
    if user.role == "admin":
        if project is None:
            raise NotFound(f"unknown project {project_id}")
        return project
    if project is None or not is_member(db, project_id, user):
        raise NotFound(f"unknown project {project_id}")
    if user.role not in PERMISSIONS[action]:
        raise Forbidden(f"role {user.role!r} may not {action.replace('_', ' ')} in this project")
    return project


def visible_projects(db: Session, user: User) -> list[Project]:
    query = select(Project).order_by(Project.id)
    if user.role != "admin":
        query = query.join(Membership, Membership.project_id == Project.id).where(
            Membership.user_id == user.id
        )
    return list(db.scalars(query))


def add_image(
    db: Session, blobs: BlobStore, project: Project, data: bytes, file_name: str
) -> tuple[Image, bool]:
    """Store the bytes (content-addressed) and list them in `project`; the same bytes twice -> the same row.

    Returns (image, created). Raises segany.io.ImageLoadError for anything not a readable image.
    """
    stored = blobs.put(data, file_name)
    existing = db.scalar(select(Image).where(Image.project_id == project.id, Image.sha256 == stored.sha256))
    if existing is not None:
        return existing, False
    image = Image(
        project_id=project.id,
        sha256=stored.sha256,
        blob_name=stored.blob_name,
        file_name=clean_name(file_name),
        width=stored.width,
        height=stored.height,
    )
    db.add(image)
    db.flush()
    return image, True


def get_image(db: Session, project_id: int, image_id: int) -> Image:
    image = db.get(Image, image_id)
    if image is None or image.project_id != project_id:
        raise NotFound(f"unknown image {image_id} in project {project_id}")
    return image


def project_images(db: Session, project_id: int) -> list[Image]:
    return list(db.scalars(select(Image).where(Image.project_id == project_id).order_by(Image.id)))


def clean_name(name: str | None) -> str:
    """A display name: last path component, printable characters only, at most 255."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(char for char in base if char.isprintable()).strip()
    return text[:255] or "upload"
