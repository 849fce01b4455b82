// See walkout/sim/raster.hpp. Plain loops over each capsule's bounding box; the arithmetic is
// written in the same order as the numpy twin (tests/twins/sim.py) so both agree bit for bit.
#include "walkout/sim/raster.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace walkout::sim {

void draw_capsules(std::uint8_t* image, float* depth, std::int32_t* labels, int height, int width,
                   const double* capsules, const std::uint8_t* colours, const std::int32_t* ids,
                   std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double* c = capsules + i * kCapsuleCols;
    const double u0 = c[0], v0 = c[1], z0 = c[2], r0 = c[3], w0 = c[4];
    const double u1 = c[5], v1 = c[6], z1 = c[7], r1 = c[8], w1 = c[9];
    if (!(r0 > 0.0) || !(r1 > 0.0) || !(z0 > 0.0) || !(z1 > 0.0)) continue;
    const double rmax = std::max(r0, r1);
    // Bounding box of both end circles, clipped to the image (integer pixel centres).
    const double bx0 = std::floor(std::min(u0, u1) - rmax), bx1 = std::ceil(std::max(u0, u1) + rmax);
    const double by0 = std::floor(std::min(v0, v1) - rmax), by1 = std::ceil(std::max(v0, v1) + rmax);
    if (!(bx1 >= 0.0) || !(by1 >= 0.0) || !(bx0 <= width - 1.0) || !(by0 <= height - 1.0)) continue;
    const int x0 = static_cast<int>(std::max(bx0, 0.0));
    const int x1 = static_cast<int>(std::min(bx1, width - 1.0));
    const int y0 = static_cast<int>(std::max(by0, 0.0));
    const int y1 = static_cast<int>(std::min(by1, height - 1.0));
    const double du = u1 - u0, dv = v1 - v0;
    const double len2 = du * du + dv * dv;
    const std::uint8_t* col = colours + 3 * i;
    const std::int32_t id = ids[i];
    for (int y = y0; y <= y1; ++y) {
      const double py = static_cast<double>(y) - v0;
      for (int x = x0; x <= x1; ++x) {
        const double px = static_cast<double>(x) - u0;
        double t = len2 > 0.0 ? (px * du + py * dv) / len2 : 0.0;
        t = std::min(std::max(t, 0.0), 1.0);
        const double ex = px - t * du, ey = py - t * dv;
        const double d2 = ex * ex + ey * ey;
        const double r = r0 + t * (r1 - r0);
        if (!(d2 < r * r)) continue;
        const double q = std::sqrt(1.0 - d2 / (r * r));
        const double z = (z0 + t * (z1 - z0)) - (w0 + t * (w1 - w0)) * q;
        const std::size_t p = static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                              static_cast<std::size_t>(x);
        if (!(z < static_cast<double>(depth[p]))) continue;
        depth[p] = static_cast<float>(z);
        const double shade = 0.5 + 0.5 * q;
        for (int k = 0; k < 3; ++k) {
          image[3 * p + k] =
              static_cast<std::uint8_t>(std::floor(static_cast<double>(col[k]) * shade + 0.5));
        }
        if (labels != nullptr) labels[p] = id;
      }
    }
  }
}

void label_boxes(const std::int32_t* labels, int height, int width, std::size_t n,
                 std::int32_t* out) {
  for (std::size_t i = 0; i < n; ++i) {
    out[5 * i + 0] = -1;
    out[5 * i + 1] = -1;
    out[5 * i + 2] = -1;
    out[5 * i + 3] = -1;
    out[5 * i + 4] = 0;
  }
  for (int y = 0; y < height; ++y) {
    const std::int32_t* row = labels + static_cast<std::size_t>(y) * static_cast<std::size_t>(width);
    for (int x = 0; x < width; ++x) {
      const std::int32_t l = row[x];
      if (l < 0 || static_cast<std::size_t>(l) >= n) continue;
      std::int32_t* o = out + 5 * static_cast<std::size_t>(l);
      if (o[4] == 0) {
        o[0] = x;
        o[1] = y;
        o[2] = x;
        o[3] = y;
      } else {
        o[0] = std::min(o[0], x);
        o[2] = std::max(o[2], x);
        o[3] = y;  // rows are visited in order, so the last row seen is the largest
      }
      o[4] += 1;
    }
  }
}

namespace {

// The pixel window a capsule can touch, clipped to the image; false when it touches none.
bool capsule_window(const double* c, int height, int width, int& x0, int& x1, int& y0, int& y1) {
  const double u0 = c[0], v0 = c[1], z0 = c[2], r0 = c[3];
  const double u1 = c[5], v1 = c[6], z1 = c[7], r1 = c[8];
  if (!(r0 > 0.0) || !(r1 > 0.0) || !(z0 > 0.0) || !(z1 > 0.0)) return false;
  const double rmax = std::max(r0, r1);
  const double bx0 = std::floor(std::min(u0, u1) - rmax), bx1 = std::ceil(std::max(u0, u1) + rmax);
  const double by0 = std::floor(std::min(v0, v1) - rmax), by1 = std::ceil(std::max(v0, v1) + rmax);
  if (!(bx1 >= 0.0) || !(by1 >= 0.0) || !(bx0 <= width - 1.0) || !(by0 <= height - 1.0)) return false;
  x0 = static_cast<int>(std::max(bx0, 0.0));
  x1 = static_cast<int>(std::min(bx1, width - 1.0));
  y0 = static_cast<int>(std::max(by0, 0.0));
  y1 = static_cast<int>(std::min(by1, height - 1.0));
  return true;
}

}  // namespace

void silhouette_areas(int height, int width, const double* capsules, const std::int32_t* ids,
                      std::size_t n, std::size_t n_ids, std::int64_t* out) {
  // Per id: the union of its capsules' windows, then a byte mask over that window.
  std::vector<int> wx0(n_ids, width), wx1(n_ids, -1), wy0(n_ids, height), wy1(n_ids, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t id = ids[i];
    int x0, x1, y0, y1;
    if (id < 0 || static_cast<std::size_t>(id) >= n_ids) continue;
    if (!capsule_window(capsules + i * kCapsuleCols, height, width, x0, x1, y0, y1)) continue;
    const auto k = static_cast<std::size_t>(id);
    wx0[k] = std::min(wx0[k], x0);
    wx1[k] = std::max(wx1[k], x1);
    wy0[k] = std::min(wy0[k], y0);
    wy1[k] = std::max(wy1[k], y1);
  }
  std::vector<std::uint8_t> mask;
  for (std::size_t k = 0; k < n_ids; ++k) {
    out[k] = 0;
    if (wx1[k] < wx0[k]) continue;
    const int mw = wx1[k] - wx0[k] + 1, mh = wy1[k] - wy0[k] + 1;
    mask.assign(static_cast<std::size_t>(mw) * static_cast<std::size_t>(mh), 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (ids[i] != static_cast<std::int32_t>(k)) continue;
      const double* c = capsules + i * kCapsuleCols;
      int x0, x1, y0, y1;
      if (!capsule_window(c, height, width, x0, x1, y0, y1)) continue;
      const double u0 = c[0], v0 = c[1], r0 = c[3], u1 = c[5], v1 = c[6], r1 = c[8];
      const double du = u1 - u0, dv = v1 - v0;
      const double len2 = du * du + dv * dv;
      for (int y = y0; y <= y1; ++y) {
        const double py = static_cast<double>(y) - v0;
        for (int x = x0; x <= x1; ++x) {
          const double px = static_cast<double>(x) - u0;
          double t = len2 > 0.0 ? (px * du + py * dv) / len2 : 0.0;
          t = std::min(std::max(t, 0.0), 1.0);
          const double ex = px - t * du, ey = py - t * dv;
          const double r = r0 + t * (r1 - r0);
          if (ex * ex + ey * ey < r * r) {
            mask[static_cast<std::size_t>(y - wy0[k]) * static_cast<std::size_t>(mw) +
                 static_cast<std::size_t>(x - wx0[k])] = 1;
          }
        }
      }
    }
    std::int64_t count = 0;
    for (const std::uint8_t m : mask) count += m;
    out[k] = count;
  }
}

}  // namespace walkout::sim
