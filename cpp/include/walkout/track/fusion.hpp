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
// one camera does not see one person twice. Every input covariance first gets
// model_error_std^2 I added (an error the per-point covariance does not model). Last, groups
// closer than merge_radius_m that share no camera are merged, closest first: one person whose
// views fell outside each other's gates (issue #9's duplicates, 0.3-0.8 m apart), whom no
// camera sees as two. The server joins neighbouring edge boxes' tracks with the same code
// (each box is a "camera").
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

struct FusionParams {
  // In (0, 1): raising it fuses points further apart (more tolerant of calibration error,
  // more likely to merge two people standing close); lowering it keeps close people apart
  // and splits one person under a poor calibration.
  double gate_probability = 0.99;
  // Metres, >= 0: isotropic error added to every point's covariance before gating and
  // weighting (calibration error, where a body "is"). Raising it joins views of one person
  // further apart and weighs views more equally; lowering it trusts each covariance as given.
  // 0 (default): callers whose covariances already carry a body term (walkout.edge's floor
  // points add body_sigma_m) would count it twice.
  double model_error_std = 0.0;
  // Metres, >= 0: groups closer than this (centre to centre) that no camera saw as two are
  // one person and merged. Raising it removes more duplicates and merges more neighbours
  // seen by disjoint cameras; lowering it keeps such neighbours apart. 0 is off. 0.6 chosen
  // on the oracle tuning seeds 11-15 (0.5-0.9 tried; benchmarks/bench_track_identity.py).
  double merge_radius_m = 0.6;
  void check() const;  // std::invalid_argument naming the field
};

// priors (optional, n = 0 for none): predicted points and covariances of the people already
// tracked (FloorTracker::predicted). Groups start at them, so each camera's points are
// assigned against where the tracked people should be; a prior nobody joins is dropped and
// the output estimates come from the detections alone. Without priors the groups start
// empty (the first camera's points found them).
FusedObservations fuse_views(const std::vector<ViewObservations>& views, const FusionParams& params,
                             const ViewObservations& priors = {nullptr, nullptr, 0});

}  // namespace walkout::track
