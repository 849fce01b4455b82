// Multi-view triangulation: one store point from its pixels in two or more cameras.
//
// Linear DLT first (Hartley & Zisserman, Multiple View Geometry, 2nd ed., §12.2, in its
// inhomogeneous form: store points are never at infinity) on undistorted normalized
// coordinates, rows scaled to unit norm so that near and far views weigh alike; then
// Gauss-Newton on the pixel reprojection error, which is the maximum-likelihood estimate
// under isotropic pixel noise and what the DLT only approximates.
#pragma once

#include <cstddef>
#include <vector>

#include "walkout/geometry/camera_model.hpp"

namespace walkout::geometry {

struct TriangulationOptions {
  // Gauss-Newton steps after the DLT. 0 keeps the linear estimate; each step costs one
  // projection per view. 3-5 reach the optimum to sub-micrometre for well-spread views;
  // raising it only helps near-degenerate (almost parallel) rays.
  int refine_iterations = 5;
  // Threads for the batch (0 = one per core).
  std::size_t threads = 0;
};

// pixels: (m, n, 2), row-major: pixel of point j in camera i; NaN marks "not seen".
// points: (n, 3) out; residuals: (n,) out: RMS pixel reprojection error over the views used.
// views: (n,) out (may be nullptr): how many views each point used.
// A point seen by fewer than two cameras, or whose rays meet behind a camera, gets NaN.
void triangulate(const std::vector<CameraModel>& cameras, const double* pixels, std::size_t n,
                 const TriangulationOptions& options, double* points, double* residuals,
                 int* views = nullptr);

}  // namespace walkout::geometry
