// HandLocator: each tracked person's two hands in 3-D (store frame) from the pose keypoints
// every camera gave for that person this frameset.
//
// Input: keypoints (N, C, 17, 3) — for each of N tracked people and each of C cameras, the 17
// COCO keypoints (u, v pixels; confidence, 0 = not seen) of the detection associated with
// that track (all-zero confidence where the camera has none); the tracks' floor points (N, 2).
// Output per (person, hand): position (3), isotropic sigma (metres), source, views used.
// Example: a wrist seen by cam1 and cam2 at pixels that agree to 2 px RMS is triangulated
// (source Triangulated, views 2, sigma ≈ pixel_sigma × range / focal / √2 ≈ 2 cm at 5 m).
//
// The sources, tried in order (the first that succeeds wins):
//   Triangulated    the wrist in >= 2 views whose RMS reprojection residual is within
//                   max_residual_px; with >= 3 views a failing set is retried without each
//                   view in turn (one wrong pairing is thrown out);
//   WristRayElbow   one wrist view and a triangulated elbow: the point on the wrist's ray at
//                   forearm length from the elbow (the one nearer a straight arm);
//   ArmExtrapolated no wrist view (a wrist inside a shelf is hidden from most cameras) but a
//                   triangulated shoulder and elbow: a forearm of forearm_ratio · |elbow −
//                   shoulder| from the elbow, bent elbow_flexion upwards off the upper arm's
//                   line (in the vertical plane through it);
//   FaceRay         one wrist view and no arm: where the wrist's ray meets the nearest open
//                   shelf face in front of the person (within max_face_distance); its depth
//                   is 0 by construction, so it places the hand on a face, never inside one.
#pragma once

#include <cstddef>
#include <vector>

#include "walkout/geometry/camera_model.hpp"
#include "walkout/interact/shelf_model.hpp"

namespace walkout::interact {

enum class HandSource : int { None = 0, Triangulated = 1, WristRayElbow = 2, ArmExtrapolated = 3, FaceRay = 4 };

struct HandLocatorParams {
  // Wrist keypoints below this confidence are not used. Raising it drops doubtful wrists
  // (fewer wrong positions, more hands falling back to the arm); lowering it uses them.
  double min_wrist_confidence = 0.3;
  // Shoulders and elbows at or above this confidence are used. Pose models still place
  // hidden joints, with low confidence; raising it ignores those, lowering it trusts them.
  double min_arm_confidence = 0.02;
  // RMS reprojection error (pixels) above which a triangulation is taken for a wrong pairing
  // of views. Raising it keeps more noisy but right triangulations and lets wrong pairings
  // through; lowering it rejects both.
  double max_residual_px = 15.0;
  // Keypoint noise (pixels, one standard deviation) used to turn a view's range into a 3-D
  // sigma. Raising it widens slot probabilities and lowers reach confidences.
  double pixel_sigma = 4.0;
  // Forearm over upper-arm length: 0.146 H / 0.186 H in Drillis & Contini's segment table
  // (1966), as used by Winter, Biomechanics and Motor Control of Human Movement.
  double forearm_ratio = 0.785;
  // Radians the forearm is taken to bend upwards off the upper arm's line when the wrist is
  // not seen: a reaching arm drops its elbow below the shoulder-wrist line, so a straight
  // extension lands low (on the simulator's oracle runs by 9-12 cm, one slot row in five).
  // 0 is a straight arm. Raising it lifts and deepens the arm-model wrist.
  double elbow_flexion = 0.5;
  // Sigma added (in quadrature) to positions that depend on the arm model, metres.
  double arm_sigma = 0.05;
  // Farthest (metres, on the floor) a hand may be from its track's floor point: an estimate
  // beyond it is a keypoint of someone else or a wrong association and is dropped. Raising
  // it keeps long reaches of a person tracked off-centre; lowering it drops more of them.
  double max_hand_distance = 1.0;
  // Farthest a person's floor point may be from a face plane for the FaceRay fallback, metres.
  double max_face_distance = 1.2;
};

struct HandEstimate {
  double xyz[3] = {0, 0, 0};
  double sigma = 0;
  HandSource source = HandSource::None;
  int views = 0;
};

class HandLocator {
 public:
  // Throws std::invalid_argument naming a bad parameter or fewer than one camera.
  HandLocator(std::vector<geometry::CameraModel> cameras, ShelfModel shelves, HandLocatorParams params);

  std::size_t camera_count() const { return cameras_.size(); }
  const HandLocatorParams& params() const { return params_; }

  // keypoints: (n, C, 17, 3) row-major; track_xy: (n, 2); out: (n, 2) estimates, left first.
  void locate(const double* keypoints, const double* track_xy, std::size_t n, HandEstimate* out) const;

 private:
  struct Point3 {
    bool ok = false;
    double xyz[3] = {0, 0, 0};
    double sigma = 0;
    int views = 0;
  };
  // Triangulates one joint from the views in `pixels` (C × 2, NaN = unused), with the
  // leave-one-out retry; ok = false when fewer than two views agree.
  Point3 triangulate_joint(const double* pixels) const;
  double view_sigma(const double xyz[3], const double* pixels) const;

  std::vector<geometry::CameraModel> cameras_;
  std::vector<std::array<double, 3>> centres_;
  ShelfModel shelves_;
  HandLocatorParams params_;
};

}  // namespace walkout::interact
