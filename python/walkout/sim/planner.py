"""Walking paths on the shop floor: shortest paths around shelves on a 10 cm grid.

One geodesic distance field per goal (Dijkstra over the 8-connected free cells, computed once
and cached), then a path is the steepest descent of that field from the start, pulled tight
(each waypoint is the farthest cell still in straight-line sight). Shoppers re-plan from where
they are whenever others push them off their line.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from walkout.sim.world import World

CELL_M = 0.1  # grid resolution; finer gives tighter paths and slower fields (cells^2)
_STEPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


class Planner:
    def __init__(self, world: World) -> None:
        self.world = world
        self.nx = math.ceil(world.width / CELL_M)
        self.ny = math.ceil(world.depth / CELL_M)
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="ij")
        centres = np.stack([(ix + 0.5) * CELL_M, (iy + 0.5) * CELL_M], -1).reshape(-1, 2)
        self.free = world.is_free(centres).reshape(self.nx, self.ny)
        self._graph = self._build_graph()
        self._fields: dict[tuple[int, int], np.ndarray] = {}

    def _build_graph(self) -> csr_matrix:
        rows, cols, weights = [], [], []
        index = np.arange(self.nx * self.ny).reshape(self.nx, self.ny)
        for dx, dy in _STEPS:
            xs = slice(max(0, -dx), self.nx - max(0, dx))
            ys = slice(max(0, -dy), self.ny - max(0, dy))
            xt = slice(max(0, dx), self.nx - max(0, -dx))
            yt = slice(max(0, dy), self.ny - max(0, -dy))
            ok = self.free[xs, ys] & self.free[xt, yt]
            if dx and dy:  # no corner cutting past a blocked cell
                ok &= self.free[xt, ys] & self.free[xs, yt]
            rows.append(index[xs, ys][ok])
            cols.append(index[xt, yt][ok])
            weights.append(np.full(int(ok.sum()), math.hypot(dx, dy) * CELL_M))
        n = self.nx * self.ny
        return coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n)).tocsr()

    def cell(self, point: np.ndarray) -> tuple[int, int]:
        ix = min(max(int(point[0] / CELL_M), 0), self.nx - 1)
        iy = min(max(int(point[1] / CELL_M), 0), self.ny - 1)
        return ix, iy

    def nearest_free_cell(self, point: np.ndarray) -> tuple[int, int]:
        ix, iy = self.cell(point)
        if self.free[ix, iy]:
            return ix, iy
        fx, fy = np.nonzero(self.free)
        k = int(np.argmin((fx - ix) ** 2 + (fy - iy) ** 2))
        return int(fx[k]), int(fy[k])

    def field(self, goal: np.ndarray) -> np.ndarray:
        key = self.nearest_free_cell(goal)
        if key not in self._fields:
            source = key[0] * self.ny + key[1]
            self._fields[key] = dijkstra(self._graph, indices=source).reshape(self.nx, self.ny)
        return self._fields[key]

    def centre(self, cell: tuple[int, int]) -> np.ndarray:
        return np.array([(cell[0] + 0.5) * CELL_M, (cell[1] + 0.5) * CELL_M])

    def segment_free(self, a: np.ndarray, b: np.ndarray) -> bool:
        n = max(2, int(np.linalg.norm(b - a) / (CELL_M * 0.5)) + 1)
        pts = a[None] + np.linspace(0.0, 1.0, n)[:, None] * (b - a)[None]
        return bool(self.world.is_free(pts).all())

    def path(self, start: np.ndarray, goal: np.ndarray) -> list[np.ndarray]:
        """Waypoints from start (exclusive) to goal (inclusive); [] when unreachable."""
        dist = self.field(goal)
        cell = self.nearest_free_cell(start)
        if not np.isfinite(dist[cell]):
            return []
        cells = [cell]
        while dist[cell] > 0:
            best, best_d = cell, dist[cell]
            for dx, dy in _STEPS:
                nx, ny = cell[0] + dx, cell[1] + dy
                if 0 <= nx < self.nx and 0 <= ny < self.ny and dist[nx, ny] < best_d:
                    best, best_d = (nx, ny), dist[nx, ny]
            if best == cell:
                break
            cell = best
            cells.append(cell)
        points = [self.centre(c) for c in cells[1:]] + [np.asarray(goal, np.float64)]
        # Pull the path tight: from each anchor, jump to the farthest point still in sight.
        tight: list[np.ndarray] = []
        anchor = np.asarray(start, np.float64)
        i = 0
        while i < len(points):
            j = len(points) - 1
            while j > i and not self.segment_free(anchor, points[j]):
                j = max(i, (i + j) // 2) if j - i > 8 else j - 1
            tight.append(points[j])
            anchor = points[j]
            i = j + 1
        return tight
