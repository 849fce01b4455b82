// Multi-view fusion; see fusion.hpp.
#include "walkout/track/fusion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "walkout/track/kalman.hpp"
#include "walkout/track/lifecycle.hpp"

namespace walkout::track {

namespace {

// Information-weighted fusion of two estimates into (x, P):
//   P = (P^-1 + R^-1)^-1,  x = P (P^-1 x + R^-1 z).
void fuse_into(double* x, double* P, const double* z, const double* R) {
  double Pi[4], Ri[4], F[4], Fi[4];
  kalman::spd_inverse<2>(P, Pi, nullptr);
  kalman::spd_inverse<2>(R, Ri, nullptr);
  for (int i = 0; i < 4; ++i) Fi[i] = Pi[i] + Ri[i];
  kalman::spd_inverse<2>(Fi, F, nullptr);
  const double a0 = Pi[0] * x[0] + Pi[1] * x[1] + Ri[0] * z[0] + Ri[1] * z[1];
  const double a1 = Pi[2] * x[0] + Pi[3] * x[1] + Ri[2] * z[0] + Ri[3] * z[1];
  x[0] = F[0] * a0 + F[1] * a1;
  x[1] = F[2] * a0 + F[3] * a1;
  for (int i = 0; i < 4; ++i) P[i] = F[i];
}

// Merge groups closer than `radius` (metres, centre to centre) that no camera saw as two
// (no camera has a detection in both), closest pair first, until none is left. One person
// whose per-camera points fell outside each other's gates (a box bottom far off along the
// view ray, a covariance that underrates the real error) is such a pair; two people that close
// are usually both seen by some camera, which keeps them apart.
void merge_close_groups(FusedObservations& out, std::vector<std::vector<std::int64_t>>& members,
                        double radius) {
  const std::size_t C = members.empty() ? 0 : members[0].size();
  const double r2 = radius * radius;
  for (;;) {
    std::size_t best_a = 0, best_b = 0;
    double best = r2;
    bool found = false;
    for (std::size_t a = 0; a < members.size(); ++a)
      for (std::size_t b = a + 1; b < members.size(); ++b) {
        const double dx = out.points[a * 2] - out.points[b * 2];
        const double dy = out.points[a * 2 + 1] - out.points[b * 2 + 1];
        const double d2 = dx * dx + dy * dy;
        if (!(d2 < best)) continue;  // strict: the first closest pair wins a tie
        bool shared = false;
        for (std::size_t c = 0; c < C && !shared; ++c) shared = members[a][c] >= 0 && members[b][c] >= 0;
        if (shared) continue;
        best = d2, best_a = a, best_b = b, found = true;
      }
    if (!found) return;
    fuse_into(&out.points[best_a * 2], &out.covs[best_a * 4], &out.points[best_b * 2], &out.covs[best_b * 4]);
    for (std::size_t c = 0; c < C; ++c)
      if (members[best_b][c] >= 0) members[best_a][c] = members[best_b][c];
    out.points.erase(out.points.begin() + static_cast<std::ptrdiff_t>(best_b * 2),
                     out.points.begin() + static_cast<std::ptrdiff_t>(best_b * 2 + 2));
    out.covs.erase(out.covs.begin() + static_cast<std::ptrdiff_t>(best_b * 4),
                   out.covs.begin() + static_cast<std::ptrdiff_t>(best_b * 4 + 4));
    members.erase(members.begin() + static_cast<std::ptrdiff_t>(best_b));
  }
}

}  // namespace

void FusionParams::check() const {
  if (!(gate_probability > 0.0 && gate_probability < 1.0))
    throw std::invalid_argument("gate_probability: expected a probability in (0, 1), got " +
                                std::to_string(gate_probability));
  if (!(model_error_std >= 0.0 && std::isfinite(model_error_std)))
    throw std::invalid_argument("model_error_std: expected a finite value >= 0 (metres), got " +
                                std::to_string(model_error_std));
  if (!(merge_radius_m >= 0.0 && std::isfinite(merge_radius_m)))
    throw std::invalid_argument("merge_radius_m: expected a finite value >= 0 (metres), got " +
                                std::to_string(merge_radius_m));
}

FusedObservations fuse_views(const std::vector<ViewObservations>& views, const FusionParams& params,
                             const ViewObservations& priors) {
  params.check();
  const double gate = chi2_quantile(params.gate_probability, 2);
  const double model_var = params.model_error_std * params.model_error_std;
  const std::size_t C = views.size();
  FusedObservations out;
  std::vector<std::vector<std::int64_t>> members;  // per group, C entries
  // Groups 0 .. priors.n - 1 start at the priors (a tracker's predictions): each camera's
  // points are assigned against them first, so two tracked neighbours keep their own views
  // even where one camera's point lies nearer the other. Their estimates are rebuilt
  // from their members alone at the end (the prior must not be counted twice downstream).
  for (std::size_t k = 0; k < priors.n; ++k) {
    double inv[4];
    if (!std::isfinite(priors.points[k * 2]) || !std::isfinite(priors.points[k * 2 + 1]) ||
        !kalman::spd_inverse<2>(&priors.covs[k * 4], inv, nullptr))
      throw std::invalid_argument("prior_points/prior_covariances: row " + std::to_string(k) +
                                  " must be finite with a symmetric positive-definite covariance");
    out.points.insert(out.points.end(), &priors.points[k * 2], &priors.points[k * 2] + 2);
    out.covs.insert(out.covs.end(), &priors.covs[k * 4], &priors.covs[k * 4] + 4);
    members.emplace_back(C, -1);
  }
  std::vector<double> scratch;
  std::vector<double> covs;  // this camera's covariances plus the model error
  for (std::size_t c = 0; c < C; ++c) {
    const ViewObservations& v = views[c];
    covs.assign(v.covs, v.covs + v.n * 4);
    for (std::size_t j = 0; j < v.n; ++j) covs[j * 4] += model_var, covs[j * 4 + 3] += model_var;
    for (std::size_t j = 0; j < v.n; ++j) {
      const double* r = &covs[j * 4];
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
      for (int i = 0; i < 4; ++i) S[i] = out.covs[k * 4 + i] + covs[j * 4 + i];
      if (!kalman::spd_inverse<2>(S, Si, nullptr)) return std::numeric_limits<double>::infinity();
      const double dx = v.points[j * 2] - out.points[k * 2], dy = v.points[j * 2 + 1] - out.points[k * 2 + 1];
      const double d2 = dx * (Si[0] * dx + Si[1] * dy) + dy * (Si[2] * dx + Si[3] * dy);
      return d2 <= gate ? d2 : std::numeric_limits<double>::infinity();
    };
    std::vector<char> used(v.n, 0);
    for (auto [k, j] : assign(rows, cols, cost, gate + 1.0, scratch)) {
      fuse_into(&out.points[k * 2], &out.covs[k * 4], &v.points[j * 2], &covs[j * 4]);
      members[k][c] = j;
      used[j] = 1;
    }
    for (std::size_t j = 0; j < v.n; ++j) {
      if (used[j]) continue;
      out.points.insert(out.points.end(), &v.points[j * 2], &v.points[j * 2] + 2);
      out.covs.insert(out.covs.end(), &covs[j * 4], &covs[j * 4] + 4);
      members.emplace_back(C, -1);
      members.back()[c] = static_cast<std::int64_t>(j);
    }
  }
  if (priors.n > 0) {
    // Rebuild every group from its members alone, in camera order; drop priors nobody joined.
    FusedObservations rebuilt;
    std::vector<std::vector<std::int64_t>> kept;
    for (std::size_t k = 0; k < members.size(); ++k) {
      bool any = false;
      double x[2], P[4];
      for (std::size_t c = 0; c < C; ++c) {
        const std::int64_t j = members[k][c];
        if (j < 0) continue;
        double R[4];
        std::copy_n(&views[c].covs[j * 4], 4, R);
        R[0] += model_var, R[3] += model_var;
        if (!any) {
          std::copy_n(&views[c].points[j * 2], 2, x);
          std::copy_n(R, 4, P);
          any = true;
        } else {
          fuse_into(x, P, &views[c].points[j * 2], R);
        }
      }
      if (!any) continue;
      rebuilt.points.insert(rebuilt.points.end(), x, x + 2);
      rebuilt.covs.insert(rebuilt.covs.end(), P, P + 4);
      kept.push_back(std::move(members[k]));
    }
    out = std::move(rebuilt);
    members = std::move(kept);
  }
  if (params.merge_radius_m > 0.0) merge_close_groups(out, members, params.merge_radius_m);
  out.members.reserve(members.size() * C);
  for (const auto& m : members) out.members.insert(out.members.end(), m.begin(), m.end());
  return out;
}

}  // namespace walkout::track
