// Shelf faces, slot grids and engagement zones; see walkout/interact/shelf_model.hpp.
#include "walkout/interact/shelf_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace walkout::interact {

namespace {

void require(bool ok, std::size_t shelf, const char* what) {
  if (!ok) throw std::invalid_argument("shelves[" + std::to_string(shelf) + "]: " + what);
}

// Standard normal CDF; erfc keeps precision in the far tails (the edge cells use them).
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Mass of cell j of n equal cells of width w under N(x, sigma), edge cells unbounded.
void axis_masses(double x, double w, int n, double sigma, double* out) {
  double below = 0.0;  // CDF at the previous boundary; cell 0 starts at −infinity
  for (int j = 0; j < n; ++j) {
    const double upper = (j == n - 1) ? 1.0 : normal_cdf(((j + 1) * w - x) / sigma);
    out[j] = std::max(0.0, upper - below);
    below = upper;
  }
}

}  // namespace

ShelfModel::ShelfModel(const std::vector<ShelfBox>& shelves, double face_margin)
    : shelves_(shelves.size()), margin_(face_margin) {
  if (!(face_margin >= 0.0) || !std::isfinite(face_margin))
    throw std::invalid_argument("face_margin: expected a finite value >= 0 metres");
  for (std::size_t i = 0; i < shelves.size(); ++i) {
    const ShelfBox& s = shelves[i];
    require(std::isfinite(s.cx) && std::isfinite(s.cy) && std::isfinite(s.yaw), i,
            "center and yaw must be finite");
    require(s.length > 0 && s.depth > 0 && s.height > 0 && std::isfinite(s.length) &&
                std::isfinite(s.depth) && std::isfinite(s.height),
            i, "length, depth and height must be finite and > 0");
    require(s.base_height >= 0 && s.base_height < s.height, i,
            "base_height must be >= 0 and below height");
    require(s.rows >= 1 && s.rows <= kMaxGrid && s.cols >= 1 && s.cols <= kMaxGrid, i,
            "rows and cols must be in [1, 64]");
    require(s.front || s.back, i, "at least one face must be open");
    shelf_first_face_.push_back(static_cast<int>(faces_.size()));
    const double c = std::cos(s.yaw), sn = std::sin(s.yaw);
    for (int side = 0; side < 2; ++side) {
      if ((side == 0 && !s.front) || (side == 1 && !s.back)) continue;
      Face f;
      f.shelf = static_cast<int>(i);
      f.side = side;
      f.ax = c;
      f.ay = sn;
      const double sign = side == 0 ? 1.0 : -1.0;
      f.nx = -sn * sign;
      f.ny = c * sign;
      // Face plane point at the local −x end: centre − (L/2)·a + (D/2)·n.
      f.ox = s.cx - 0.5 * s.length * f.ax + 0.5 * s.depth * f.nx;
      f.oy = s.cy - 0.5 * s.length * f.ay + 0.5 * s.depth * f.ny;
      f.length = s.length;
      f.z0 = s.base_height;
      f.z1 = s.height;
      f.half_depth = 0.5 * s.depth;
      f.rows = s.rows;
      f.cols = s.cols;
      f.first_slot = slot_count_;
      slot_count_ += s.rows * s.cols;
      faces_.push_back(f);
    }
    shelf_face_count_.push_back(static_cast<int>(faces_.size()) - shelf_first_face_.back());
  }
}

void ShelfModel::add_zone(int shelf, std::vector<double> polygon_xy) {
  if (shelf < 0 || static_cast<std::size_t>(shelf) >= shelves_)
    throw std::invalid_argument("zone shelf index " + std::to_string(shelf) + " out of range");
  if (polygon_xy.size() < 6 || polygon_xy.size() % 2 != 0)
    throw std::invalid_argument("zone polygon: expected shape (k, 2) with k >= 3");
  for (double x : polygon_xy)
    if (!std::isfinite(x)) throw std::invalid_argument("zone polygon: expected finite vertices");
  double x0 = polygon_xy[0], y0 = polygon_xy[1], x1 = x0, y1 = y0;
  for (std::size_t i = 0; i < polygon_xy.size(); i += 2) {
    x0 = std::min(x0, polygon_xy[i]);
    x1 = std::max(x1, polygon_xy[i]);
    y0 = std::min(y0, polygon_xy[i + 1]);
    y1 = std::max(y1, polygon_xy[i + 1]);
  }
  zone_boxes_.insert(zone_boxes_.end(), {x0, y0, x1, y1});
  zones_.push_back(std::move(polygon_xy));
  zone_shelf_.push_back(shelf);
}

FaceCoords ShelfModel::face_coords(int face, const double p[3]) const {
  const Face& f = faces_[static_cast<std::size_t>(face)];
  const double dx = p[0] - f.ox, dy = p[1] - f.oy;
  FaceCoords c;
  c.depth = -(dx * f.nx + dy * f.ny);
  c.u = dx * f.ax + dy * f.ay;
  c.v = p[2] - f.z0;
  const double m = margin_;
  const double inside = std::min(std::min(c.u + m, f.length + m - c.u),
                                 std::min(c.v + m, (f.z1 - f.z0) + m - c.v));
  // 2·half_depth − depth: distance to the back plane, so a hand beyond the shelf's back
  // (in the next aisle) is outside it rather than infinitely deep.
  c.effective = std::min(std::min(c.depth, 2.0 * f.half_depth - c.depth), inside);
  return c;
}

int ShelfModel::nearest_face(const double p[3], FaceCoords* coords) const {
  int best = -1;
  FaceCoords best_c;
  best_c.effective = -std::numeric_limits<double>::infinity();
  for (std::size_t s = 0; s < shelves_; ++s) {
    // On a double-sided gondola a hand is reaching through the face whose plane it is nearer.
    int pick = -1;
    FaceCoords pick_c;
    for (int k = 0; k < shelf_face_count_[s]; ++k) {
      const int fi = shelf_first_face_[s] + k;
      const FaceCoords c = face_coords(fi, p);
      if (pick < 0 || c.depth < pick_c.depth) {
        pick = fi;
        pick_c = c;
      }
    }
    // Strict ">" keeps the lower index on ties, which the numpy twin mirrors with argmax.
    if (pick >= 0 && (best < 0 || pick_c.effective > best_c.effective)) {
      best = pick;
      best_c = pick_c;
    }
  }
  if (coords) *coords = best_c;
  return best;
}

int ShelfModel::slot_of(int face, double u, double v) const {
  const Face& f = faces_[static_cast<std::size_t>(face)];
  const double w = f.length / f.cols, h = (f.z1 - f.z0) / f.rows;
  const int col = std::clamp(static_cast<int>(std::floor(u / w)), 0, f.cols - 1);
  const int row = std::clamp(static_cast<int>(std::floor(v / h)), 0, f.rows - 1);
  return f.first_slot + row * f.cols + col;
}

void ShelfModel::slot_probabilities(int face, double u, double v, double sigma,
                                    double* out) const {
  const Face& f = faces_[static_cast<std::size_t>(face)];
  const std::size_t cells = static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.cols);
  if (!(sigma > 0.0)) {
    std::fill(out, out + cells, 0.0);
    out[slot_of(face, u, v) - f.first_slot] = 1.0;
    return;
  }
  double pc[kMaxGrid], pr[kMaxGrid];  // stack buffers: this runs per hand sample in a reach
  axis_masses(u, f.length / f.cols, f.cols, sigma, pc);
  axis_masses(v, (f.z1 - f.z0) / f.rows, f.rows, sigma, pr);
  // An isotropic Gaussian factorises over the face's orthogonal u and v axes.
  for (int r = 0; r < f.rows; ++r)
    for (int c = 0; c < f.cols; ++c)
      out[static_cast<std::size_t>(r) * f.cols + c] = pr[r] * pc[c];
}

bool ShelfModel::zone_contains(std::size_t zone, double x, double y) const {
  // Crossing number: count polygon edges a ray towards +x crosses; half-open in y so a
  // vertex on the ray is counted once.
  const double* box = &zone_boxes_[4 * zone];
  if (x < box[0] || x > box[2] || y < box[1] || y > box[3]) return false;
  const std::vector<double>& poly = zones_[zone];
  const std::size_t k = poly.size() / 2;
  bool in = false;
  for (std::size_t i = 0, j = k - 1; i < k; j = i++) {
    const double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
    if ((yi > y) != (yj > y)) {
      const double xc = xi + (y - yi) * (xj - xi) / (yj - yi);
      if (x < xc) in = !in;
    }
  }
  return in;
}

}  // namespace walkout::interact
