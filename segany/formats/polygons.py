"""Mask <-> polygon conversion, shared by the COCO polygon option and the YOLO-seg format.

Coordinate frame: vertices are (x, y) in pixel-index coordinates, where (x, y) is the centre of the pixel in
column x, row y (OpenCV's frame; Ultralytics' YOLO-seg tools use it too). Polygons are N x 2 float64 arrays.
COCO's frame, where pixel x covers [x, x + 1), is this one shifted by +0.5.

``mask_to_polygons`` traces the mask at twice its resolution (``cv2.findContours`` with ``RETR_CCOMP`` on a 2x
nearest-neighbour upsampling), so each outline runs a quarter pixel outside the centres of the region's
boundary pixels. That is what makes the polygons rasterise back to the same pixels both with ``cv2.fillPoly``
after rounding (this module, Ultralytics) and with pycocotools, which keeps a pixel when its centre is inside.
Single pixels and 1-pixel-wide lines keep a polygon of their own. One polygon is returned per outer boundary
(8-connected region); each of its holes is spliced in with a zero-width "bridge": from the hole's top vertex
straight up to the first outline above (the outer one or another hole), around the hole, and back along the
same segment. Under the even-odd fill rule the hole stays empty, and the bridge runs through the region
itself. A region inside a hole is a separate outer polygon.

``polygons_to_mask`` fills each polygon with ``cv2.fillPoly`` (even-odd rule, vertices rounded to whole
pixels, boundary pixels included) and takes the union over polygons, which is how COCO combines the polygons
of one annotation. ``fillPoly`` also draws each bridge, so a bridge that crosses background adds a 1-pixel
line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

_MAX_PROBES = 16  # vertices of a polygon tried as its end of a bridge between parts (evenly spaced)
_MAX_POOL = 2048  # vertices of the earlier parts it may bridge to
_MAX_COORDINATE = 1e7  # larger vertices would overflow OpenCV's int32 points


def mask_to_polygons(mask: np.ndarray, keep_holes: bool = True) -> list[np.ndarray]:
    """H x W bool mask -> list of N x 2 float64 (x, y) pixel-index polygons, one per outer boundary.

    Args:
        mask: H x W bool (or integer, nonzero = inside) array.
        keep_holes: splice each hole into its outer polygon (see module docstring); False fills holes.
    """
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(
            f"mask must be an H x W numpy array, got {getattr(mask, 'shape', type(mask).__name__)}"
        )
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.integer):
        raise TypeError(f"mask must be bool or integer (nonzero = inside), got dtype {mask.dtype}")
    doubled = np.repeat(np.repeat((mask != 0).astype(np.uint8), 2, axis=0), 2, axis=1)
    mode = cv2.RETR_CCOMP if keep_holes else cv2.RETR_EXTERNAL
    contours, hierarchy = cv2.findContours(doubled, mode, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]  # per contour: next, previous, first child, parent
    # Upsampled pixel u covers original pixel-index coordinates [u/2 - 0.5, u/2]; its centre is (u - 0.5) / 2.
    outlines = [(contour[:, 0, :].astype(np.float64) - 0.5) / 2.0 for contour in contours]
    polygons = []
    for index, outline in enumerate(outlines):
        if links[index][3] != -1:
            continue  # a hole: spliced into its parent below
        group = [outline]
        child = links[index][2]
        while child != -1:
            group.append(outlines[child])
            child = links[child][0]
        polygons.append(_splice_holes(group[0], group[1:]) if len(group) > 1 else group[0])
    return polygons


def merge_polygons(polygons: Sequence[np.ndarray]) -> np.ndarray:
    """Join N x 2 (x, y) polygons into one with zero-width bridges (for formats with one polygon per mask).

    Each polygon is bridged to the nearest vertex of the ones before it. Under the even-odd rule the result
    fills what the polygons filled as long as their interiors do not overlap (true for ``mask_to_polygons``
    output). An empty input gives a 0 x 2 array.
    """
    checked = [_as_polygon(polygon, f"polygons[{i}]") for i, polygon in enumerate(polygons)]
    if not checked:
        return np.zeros((0, 2), dtype=np.float64)
    return _join_nearest(checked)


def polygons_to_mask(polygons: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise N x 2 (x, y) pixel-index polygons to an H x W bool mask (even-odd per polygon, union across).

    Vertices are rounded to the nearest pixel; polygons with fewer than 3 vertices are skipped.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive, got {height}x{width} (HxW)")
    mask = np.zeros((height, width), dtype=np.uint8)
    layer = np.zeros_like(mask)
    for i, polygon in enumerate(polygons):
        points = _as_polygon(polygon, f"polygons[{i}]")
        if len(points) < 3:
            continue
        if np.abs(points).max() > _MAX_COORDINATE:
            raise ValueError(f"polygons[{i}] has vertices beyond +-{_MAX_COORDINATE:g} pixels")
        layer[:] = 0
        cv2.fillPoly(layer, [np.rint(points).astype(np.int32)], 1)
        mask |= layer
    return mask.astype(bool)


def _splice_holes(outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """Splice holes into their outer polygon, each by a vertical bridge up from its top vertex.

    The bridge ends where the upward ray first meets another outline (the outer one or a hole above), so it
    runs through the region itself and draws no pixel outside it. Every hole hangs off a point strictly above
    its own top, so the attachments form a tree rooted at the outer polygon.
    """
    polygons = [outer, *holes]
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(polygon, -1, axis=0) for polygon in polygons])
    owner = np.concatenate([np.full(len(polygon), k) for k, polygon in enumerate(polygons)])
    local = np.concatenate([np.arange(len(polygon)) for polygon in polygons])
    tops = [int(np.lexsort((hole[:, 0], hole[:, 1]))[0]) for hole in holes]  # smallest y, then smallest x
    points = np.asarray([hole[top] for hole, top in zip(holes, tops)])
    edges, ts = _first_edges_above(points, np.arange(1, len(polygons)), starts, ends, owner)
    inserts: list[list[tuple[int, float, int, int]]] = [
        [] for _ in polygons
    ]  # (edge, t, child, child vertex)
    for k, (top, edge, t) in enumerate(zip(tops, edges.tolist(), ts.tolist()), start=1):
        if (
            edge < 0
        ):  # cannot happen for a hole inside its outline; bridge to the nearest outer vertex instead
            edge, t = int(np.argmin(((outer - polygons[k][top]) ** 2).sum(axis=1))), 0.0
        inserts[int(owner[edge])].append((int(local[edge]), t, k, top))
    # Rebuild each outline with the bridge ends inserted as vertices, then attach the children there.
    rebuilt: list[np.ndarray] = []
    index_maps: list[np.ndarray] = []
    attach: list[list[tuple[int, int, int]]] = []  # per polygon: (new vertex, child, child's old vertex)
    for k, polygon in enumerate(polygons):
        pending = sorted(inserts[k])
        vertices: list[np.ndarray] = []
        index_map = np.zeros(len(polygon), dtype=np.int64)
        spots: list[tuple[int, int, int]] = []
        cursor = 0
        for vertex in range(len(polygon)):
            index_map[vertex] = len(vertices)
            vertices.append(polygon[vertex])
            while cursor < len(pending) and pending[cursor][0] == vertex:
                _, t, child, child_vertex = pending[cursor]
                after = polygon[(vertex + 1) % len(polygon)]
                spots.append((len(vertices), child, child_vertex))
                vertices.append(polygon[vertex] + t * (after - polygon[vertex]))
                cursor += 1
        rebuilt.append(np.asarray(vertices, dtype=np.float64))
        index_maps.append(index_map)
        attach.append(spots)
    children: list[dict[int, list[tuple[int, int]]]] = [{} for _ in polygons]
    for k, spots in enumerate(attach):
        for vertex, child, child_vertex in spots:
            children[k].setdefault(vertex, []).append((child, int(index_maps[child][child_vertex])))
    return _walk(rebuilt, children)


def _first_edges_above(
    points: np.ndarray, point_owner: np.ndarray, starts: np.ndarray, ends: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the (edge, t) where a ray going up (towards smaller y) meets another outline first.

    Edge -1 where none; ``t`` in [0, 1] places the meeting point at ``starts + t * (ends - starts)``.

    Only edges whose x range covers the point's column are tested: edges are bucketed by whole x first.
    """
    edges = np.full(len(points), -1, dtype=np.int64)
    ts = np.zeros(len(points))
    low = np.floor(np.minimum(starts[:, 0], ends[:, 0])).astype(np.int64)
    high = np.floor(np.maximum(starts[:, 0], ends[:, 0])).astype(np.int64)
    spans = high - low + 1
    bucket = np.repeat(low, spans) + _ranges(spans)
    bucket_edge = np.repeat(np.arange(len(starts)), spans)
    order = np.argsort(bucket, kind="stable")
    bucket, bucket_edge = bucket[order], bucket_edge[order]
    column = np.floor(points[:, 0]).astype(np.int64)
    first = np.searchsorted(bucket, column, side="left")
    counts = np.searchsorted(bucket, column, side="right") - first
    pair_point = np.repeat(np.arange(len(points)), counts)
    pair_edge = bucket_edge[np.repeat(first, counts) + _ranges(counts)]
    x0, y0 = points[pair_point, 0], points[pair_point, 1]
    ax, ay = starts[pair_edge, 0], starts[pair_edge, 1]
    bx, by = ends[pair_edge, 0], ends[pair_edge, 1]
    usable = (
        (owner[pair_edge] != point_owner[pair_point])
        & (np.minimum(ax, bx) <= x0)
        & (x0 <= np.maximum(ax, bx))
    )
    slanted = usable & (ax != bx)
    t = np.where(slanted, (x0 - ax) / np.where(ax != bx, bx - ax, 1.0), 0.0)
    y = np.where(slanted, ay + t * (by - ay), -np.inf)
    upright = usable & (ax == bx)  # the ray runs along the edge: it meets the edge's lower end first
    y = np.where(upright, np.maximum(ay, by), y)
    t = np.where(upright, np.where(ay >= by, 0.0, 1.0), t)
    valid = np.flatnonzero(y < y0)
    if valid.size:
        best = valid[np.lexsort((y[valid], pair_point[valid]))]  # per point, highest y last
        last = np.r_[pair_point[best][1:] != pair_point[best][:-1], True]
        edges[pair_point[best][last]] = pair_edge[best][last]
        ts[pair_point[best][last]] = t[best][last]
    return edges, ts


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(c) for c in counts."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    result: np.ndarray = np.arange(total, dtype=np.int64) - offsets
    return result


def _join_nearest(polygons: list[np.ndarray]) -> np.ndarray:
    """Splice polygons[1:] into polygons[0], each bridged to the nearest vertex of an earlier polygon.

    The search tries up to ``_MAX_PROBES`` evenly spaced vertices of the new polygon against up to
    ``_MAX_POOL`` evenly spaced vertices of the earlier ones, so bridges are short but not always the
    shortest.
    """
    children: list[dict[int, list[tuple[int, int]]]] = [{} for _ in polygons]
    pool = np.concatenate(polygons)  # the vertices of polygons[:k] are pool[:offsets[k]]
    owner = np.concatenate([np.full(len(polygon), j) for j, polygon in enumerate(polygons)])
    local = np.concatenate([np.arange(len(polygon)) for polygon in polygons])
    offsets = np.cumsum([0, *(len(polygon) for polygon in polygons)])
    for k in range(1, len(polygons)):
        keep = _spread(int(offsets[k]), _MAX_POOL)
        probes = _spread(len(polygons[k]), _MAX_PROBES)
        distances = ((polygons[k][probes][:, None, :] - pool[keep][None, :, :]) ** 2).sum(axis=2)
        probe, target = np.unravel_index(int(np.argmin(distances)), distances.shape)
        parent, vertex = int(owner[keep[target]]), int(local[keep[target]])
        children[parent].setdefault(vertex, []).append((k, int(probes[probe])))
    return _walk(polygons, children)


def _spread(count: int, most: int) -> np.ndarray:
    """Up to ``most`` evenly spaced indices into range(count)."""
    return np.unique(np.linspace(0, count - 1, min(count, most)).astype(np.int64))


def _walk(polygons: list[np.ndarray], children: list[dict[int, list[tuple[int, int]]]]) -> np.ndarray:
    """Emit polygons[0]'s vertices, detouring round each attached child (and its children) at its vertex.

    ``children[k][v]`` lists (child, child's first vertex) attached at vertex v of polygon k. A child's loop
    starts and ends at its first vertex, then the walk steps back to the parent vertex.
    """
    pieces: list[np.ndarray] = []
    # Frame: [polygon, first vertex, vertices in walk order, offsets of attachment vertices, next cut,
    # position,         vertex to return to afterwards (None for the root)].
    stack: list[list[Any]] = [_frame(polygons, children, 0, 0, None)]
    while stack:
        frame = stack[-1]
        k, start, ring, cuts, cut_index, position, back = frame
        if cut_index < len(cuts):
            cut = cuts[cut_index]
            pieces.append(ring[position : cut + 1])
            frame[4], frame[5] = cut_index + 1, cut + 1
            vertex = (start + cut) % len(polygons[k])
            for child, child_start in reversed(children[k][vertex]):
                stack.append(_frame(polygons, children, child, child_start, polygons[k][vertex]))
            continue
        pieces.append(ring[position:])
        stack.pop()
        if back is not None:
            pieces.append(back[None, :])
    return np.concatenate(pieces).astype(np.float64, copy=False)


def _frame(
    polygons: list[np.ndarray],
    children: list[dict[int, list[tuple[int, int]]]],
    k: int,
    start: int,
    back: np.ndarray | None,
) -> list[Any]:
    size = len(polygons[k])
    order = (start + np.arange(size + (back is not None))) % size  # a child loop closes on its first vertex
    cuts = sorted((vertex - start) % size for vertex in children[k])
    return [k, start, polygons[k][order], cuts, 0, 0, back]


def _as_polygon(polygon: np.ndarray, where: str) -> np.ndarray:
    points = np.asarray(polygon, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{where} must be an N x 2 array of (x, y) vertices, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{where} has non-finite vertices")
    return points
