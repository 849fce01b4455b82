// Multi-view fusion; see fusion.hpp.
#include "walkout/track/fusion.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "walkout/track/kalman.hpp"
#include "walkout/track/lifecycle.hpp"

namespace walkout::track {

FusedObservations fuse_views(const std::vector<ViewObservations>& views, double gate_probability) {
  const double gate = chi2_quantile(gate_probability, 2);
  const std::size_t C = views.size();
  FusedObservations out;
  std::vector<std::vector<std::int64_t>> members;  // per group, C entries
  std::vector<double> scratch;
  for (std::size_t c = 0; c < C; ++c) {
    const ViewObservations& v = views[c];
    for (std::size_t j = 0; j < v.n; ++j) {
      const double* r = &v.covs[j * 4];
      double inv[4];
      if (!std::isfinite(v.points[j * 2]) || !std::isfinite(v.points[j * 2 + 1]) ||
          !kalman::spd_inverse<2>(r, inv, nullptr))
        throw std::invalid_argument("points/covariances: camera " + std::to_string(c) + " row " +
                                    std::to_string(j) +
                                    " must be finite with a symmetric positive-definite covariance");
    }
    std::vector<int> rows(members.size()), cols(v.n);
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<int>(k);
    for (std::size_t j = 0; j < v.n; ++j) cols[j] = static_cast<int>(j);
    auto cost = [&](int k, int j) {
      double S[4], Si[4];
      for (int i = 0; i < 4; ++i) S[i] = out.covs[k * 4 + i] + v.covs[j * 4 + i];
      if (!kalman::spd_inverse<2>(S, Si, nullptr)) return std::numeric_limits<double>::infinity();
      const double dx = v.points[j * 2] - out.points[k * 2], dy = v.points[j * 2 + 1] - out.points[k * 2 + 1];
      const double d2 = dx * (Si[0] * dx + Si[1] * dy) + dy * (Si[2] * dx + Si[3] * dy);
      return d2 <= gate ? d2 : std::numeric_limits<double>::infinity();
    };
    std::vector<char> used(v.n, 0);
    for (auto [k, j] : assign(rows, cols, cost, gate + 1.0, scratch)) {
      // Information-weighted fusion of the group estimate and this camera's point.
      double Pi[4], Ri[4], F[4], Fi[4];
      kalman::spd_inverse<2>(&out.covs[k * 4], Pi, nullptr);
      kalman::spd_inverse<2>(&v.covs[j * 4], Ri, nullptr);
      for (int i = 0; i < 4; ++i) Fi[i] = Pi[i] + Ri[i];
      kalman::spd_inverse<2>(Fi, F, nullptr);
      const double* x = &out.points[k * 2];
      const double* z = &v.points[j * 2];
      const double a0 = Pi[0] * x[0] + Pi[1] * x[1] + Ri[0] * z[0] + Ri[1] * z[1];
      const double a1 = Pi[2] * x[0] + Pi[3] * x[1] + Ri[2] * z[0] + Ri[3] * z[1];
      out.points[k * 2] = F[0] * a0 + F[1] * a1;
      out.points[k * 2 + 1] = F[2] * a0 + F[3] * a1;
      for (int i = 0; i < 4; ++i) out.covs[k * 4 + i] = F[i];
      members[k][c] = j;
      used[j] = 1;
    }
    for (std::size_t j = 0; j < v.n; ++j) {
      if (used[j]) continue;
      out.points.insert(out.points.end(), &v.points[j * 2], &v.points[j * 2] + 2);
      out.covs.insert(out.covs.end(), &v.covs[j * 4], &v.covs[j * 4] + 4);
      members.emplace_back(C, -1);
      members.back()[c] = static_cast<std::int64_t>(j);
    }
  }
  out.members.reserve(members.size() * C);
  for (const auto& m : members) out.members.insert(out.members.end(), m.begin(), m.end());
  return out;
}

}  // namespace walkout::track
