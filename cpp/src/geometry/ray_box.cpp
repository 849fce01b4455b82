#include "walkout/geometry/ray_box.hpp"

#include <cmath>
#include <limits>

#include "walkout/common/parallel.hpp"

namespace walkout::geometry {

void intersect_rays_box(const OrientedBox& box, const double* origins, const double* directions,
                        std::size_t n, double* t_enter, double* t_exit, int* face,
                        std::size_t threads) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const double* Rm = box.rotation;
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const double* o = origins + 3 * i;
      const double* d = directions + 3 * i;
      const double rel[3] = {o[0] - box.centre[0], o[1] - box.centre[1], o[2] - box.centre[2]};
      double lo = -INFINITY, hi = INFINITY;
      int lo_face = -1;
      bool miss = false;
      for (int a = 0; a < 3; ++a) {
        // Box-frame coordinates: Rᵀ·(o - c) and Rᵀ·d (column a of R).
        const double oa = Rm[a] * rel[0] + Rm[3 + a] * rel[1] + Rm[6 + a] * rel[2];
        const double da = Rm[a] * d[0] + Rm[3 + a] * d[1] + Rm[6 + a] * d[2];
        const double h = box.half_size[a];
        if (da == 0.0) {
          // Parallel to this slab: inside it for every t, or never.
          if (oa < -h || oa > h) miss = true;
          continue;
        }
        double t0 = (-h - oa) / da, t1 = (h - oa) / da;
        int f0 = 2 * a, f1 = 2 * a + 1;  // entering through -axis when moving +
        if (t0 > t1) {
          std::swap(t0, t1);
          std::swap(f0, f1);
        }
        if (t0 > lo) {
          lo = t0;
          lo_face = f0;
        }
        if (t1 < hi) hi = t1;
      }
      // lo stays -inf only for a zero direction, which is no ray at all.
      if (miss || std::isinf(lo) || !(lo <= hi) || hi < 0.0 || std::isnan(lo) || std::isnan(hi)) {
        t_enter[i] = t_exit[i] = kNaN;
        face[i] = -1;
        continue;
      }
      t_enter[i] = lo;
      t_exit[i] = hi;
      face[i] = lo < 0.0 ? -1 : lo_face;
    }
  }, threads, 4096);
}

}  // namespace walkout::geometry
