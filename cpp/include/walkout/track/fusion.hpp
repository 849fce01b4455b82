// Multi-view fusion on the floor: the floor observations of one frameset, per camera, grouped
// into one observation per person.
//
// Inputs: for each camera c, n_c points (x, y) in metres with a 2x2 covariance each (m^2,
// from walkout.geometry). Output: K fused points with covariances, and a K x C table of which
// detection of each camera went into each fused point (-1 where that camera did not see it).
//
// Cameras are folded in one at a time: the points of camera c are assigned to the fused
// groups so far (min-cost assignment on the squared Mahalanobis distance between the group
// estimate and the point, under the combined covariance, gated at the chi-square quantile of
// gate_probability, 2 dof); a matched point is fused by information weighting
//   P = (P_g^-1 + R^-1)^-1,  x = P (P_g^-1 x_g + R^-1 z),
// an unmatched one starts a group. A camera contributes at most one point per group, since
// one camera does not see one person twice. The server joins neighbouring edge boxes' tracks
// with the same code (each box is a "camera").
//
// Example: two cameras seeing one person at (1.00, 2.00) and (1.06, 2.02), covariances
// 0.01 I and 0.04 I -> one point near (1.012, 2.004) with covariance 0.008 I, members [[0, 0]].
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace walkout::track {

struct ViewObservations {
  const double* points;  // n x 2
  const double* covs;    // n x 2 x 2
  std::size_t n;
};

struct FusedObservations {
  std::vector<double> points;          // K x 2
  std::vector<double> covs;            // K x 2 x 2
  std::vector<std::int64_t> members;   // K x C: detection index per camera, -1 if none
};

// gate_probability in (0, 1): raising it fuses points further apart (more tolerant of
// calibration error, more likely to merge two people standing close); lowering it keeps
// close people apart and splits one person under a poor calibration.
FusedObservations fuse_views(const std::vector<ViewObservations>& views, double gate_probability);

}  // namespace walkout::track
