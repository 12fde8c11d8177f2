"""Runtime model switch: a running project server starts serving another registered model version.

The new weights load while the old model keeps answering; then, under one lock, the server's state
(`app.state.segany`: model, embedding and prediction caches, decoder export) is replaced by one over the same
images, the stage-job runner takes the new model for the jobs it starts next, and new manual accepts are
tagged with the new version. The old state finishes the encodings already queued (requests in flight get
their answer) and is closed; single-user "everything" jobs still running on it are cancelled.
"""

from __future__ import annotations

import threading
from typing import Any

from segany.engine.errors import Conflict, EngineError
from segany.engine.models import ModelVersion
from segany.engine.versions import find_version

_LOCKS_GUARD = threading.Lock()


class ModelLoadFailed(EngineError):
    status = 422


def _switch_lock(app: Any) -> threading.Lock:
    with _LOCKS_GUARD:
        lock: threading.Lock | None = getattr(app.state, "engine_switch_lock", None)
        if lock is None:
            lock = threading.Lock()
            app.state.engine_switch_lock = lock
        return lock


def switch_model(app: Any, name_or_id: str) -> ModelVersion:
    """Serve the registered model version `name_or_id` (name or id) from now on; returns it.

    Raises:
        NotFound: no such version. ModelLoadFailed: its weights do not load. Conflict: the weights on disk
        are not the ones registered (their fingerprint differs), or another switch is running.
    """
    from segany.cli.common import CliError
    from segany.cli.models import resolve_model
    from segany.training.embedding_cache import model_fingerprint

    engine = app.state.engine
    version = find_version(engine.store, name_or_id)
    lock = _switch_lock(app)
    if not lock.acquire(blocking=False):
        raise Conflict("another model switch is running; try again when it has finished", "version")
    try:
        old = app.state.segany
        if version.id == engine.model_version_id:
            return version
        device = str(next(old.sam.parameters()).device)
        try:
            sam, description = resolve_model(version.model, device)
        except (CliError, OSError, RuntimeError, ValueError) as exc:
            raise ModelLoadFailed(
                f"model version {version.name!r} ({version.model}) does not load: {exc}", "version"
            ) from None
        sam = sam.eval()
        fingerprint = model_fingerprint(sam, sam.image_size)
        if version.fingerprint is not None and fingerprint != version.fingerprint:
            raise Conflict(
                f"the weights of model version {version.name!r} changed since it was registered "
                f"(fingerprint {fingerprint[:12]}, registered {version.fingerprint[:12]})",
                "version",
            )
        name = description.spec if description.source in ("official", "bundled") else version.name
        app.state.segany = old.with_model(sam, name, description.source)
        engine.model_version_id = version.id
        if engine.runner is not None:
            engine.runner.use(sam, version.id)
        old.close(drain=True)
        return version
    finally:
        lock.release()
