// Hands in 3-D from per-camera pose keypoints; see walkout/interact/hands3d.hpp.
#include "walkout/interact/hands3d.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "walkout/geometry/projection.hpp"
#include "walkout/geometry/triangulation.hpp"

namespace walkout::interact {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// COCO keypoint indices: shoulders 5/6, elbows 7/8, wrists 9/10 (left, right).
constexpr int kShoulder[2] = {5, 6};
constexpr int kElbow[2] = {7, 8};
constexpr int kWrist[2] = {9, 10};
constexpr int kKeypoints = 17;

void need(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

double dist3(const double a[3], const double b[3]) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

// The arm model's wrist: from the elbow, forearm_ratio times the upper arm's length along
// the upper arm's direction turned up by `flexion` in the vertical plane through it.
void arm_wrist(const double S[3], const double E[3], double ratio, double flexion, double W[3]) {
  double u[3] = {E[0] - S[0], E[1] - S[1], E[2] - S[2]};
  const double a = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  if (!(a > 0)) {
    std::copy(E, E + 3, W);
    return;
  }
  for (double& x : u) x /= a;
  double v[3] = {-u[2] * u[0], -u[2] * u[1], 1.0 - u[2] * u[2]};  // up, minus its part along u
  const double vn = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  const double c = std::cos(flexion), s = vn > 1e-9 ? std::sin(flexion) / vn : 0.0;
  for (int k = 0; k < 3; ++k) W[k] = E[k] + ratio * a * (c * u[k] + s * v[k]);
}

}  // namespace

HandLocator::HandLocator(std::vector<geometry::CameraModel> cameras, ShelfModel shelves,
                         HandLocatorParams params)
    : cameras_(std::move(cameras)), shelves_(std::move(shelves)), params_(params) {
  need(!cameras_.empty(), "cameras: expected at least one camera");
  need(params_.min_wrist_confidence >= 0 && params_.min_wrist_confidence <= 1,
       "min_wrist_confidence: expected a value in [0, 1]");
  need(params_.min_arm_confidence >= 0 && params_.min_arm_confidence <= 1,
       "min_arm_confidence: expected a value in [0, 1]");
  need(params_.max_residual_px > 0 && std::isfinite(params_.max_residual_px),
       "max_residual_px: expected a finite value > 0 pixels");
  need(params_.pixel_sigma > 0 && std::isfinite(params_.pixel_sigma),
       "pixel_sigma: expected a finite value > 0 pixels");
  need(params_.forearm_ratio > 0 && params_.forearm_ratio < 3, "forearm_ratio: expected a value in (0, 3)");
  need(std::isfinite(params_.elbow_flexion) && std::fabs(params_.elbow_flexion) < 1.6,
       "elbow_flexion: expected radians in (-1.6, 1.6)");
  need(params_.arm_sigma >= 0 && std::isfinite(params_.arm_sigma), "arm_sigma: expected a finite value >= 0");
  need(params_.max_hand_distance > 0 && std::isfinite(params_.max_hand_distance),
       "max_hand_distance: expected a finite value > 0 metres");
  need(params_.max_face_distance >= 0 && std::isfinite(params_.max_face_distance),
       "max_face_distance: expected a finite value >= 0 metres");
  need(params_.hidden_depth >= 0 && std::isfinite(params_.hidden_depth),
       "hidden_depth: expected a finite value >= 0 metres");
  need(std::isfinite(params_.prior_height), "prior_height: expected a finite height in metres");
  need(params_.max_facing_cosine >= 0 && params_.max_facing_cosine <= 1,
       "max_facing_cosine: expected a value in [0, 1]");
  need(params_.max_prior_distance > 0 && std::isfinite(params_.max_prior_distance),
       "max_prior_distance: expected a finite value > 0 metres");
  need(params_.max_arm_reach > 0 && std::isfinite(params_.max_arm_reach),
       "max_arm_reach: expected a finite value > 0 metres");
  need(params_.min_hidden_wrist_confidence >= 0 && params_.min_hidden_wrist_confidence <= 1,
       "min_hidden_wrist_confidence: expected a value in [0, 1]");
  need(params_.hidden_pixel_sigma > 0 && std::isfinite(params_.hidden_pixel_sigma),
       "hidden_pixel_sigma: expected a finite value > 0 pixels");
  need(params_.single_view_sigma >= 0 && std::isfinite(params_.single_view_sigma),
       "single_view_sigma: expected a finite value >= 0 metres");
  for (const auto& c : cameras_) centres_.push_back(c.centre_in_store());
}

// One pixel of noise moves a point at range r by about r / f metres across the ray; with k
// views the errors average down by √k (the depth error of two near-parallel rays is larger,
// which the residual check, not this sigma, guards against).
double HandLocator::view_sigma(const double xyz[3], const double* pixels, double noise_px) const {
  double sum = 0.0;
  int k = 0;
  for (std::size_t c = 0; c < cameras_.size(); ++c) {
    if (std::isnan(pixels[2 * c])) continue;
    const double f = 0.5 * (cameras_[c].fx + cameras_[c].fy);
    sum += dist3(xyz, centres_[c].data()) / f;
    ++k;
  }
  return k ? noise_px * (sum / k) / std::sqrt(static_cast<double>(k)) : 0.0;
}

HandLocator::Point3 HandLocator::triangulate_joint(const double* pixels, double noise_px) const {
  const std::size_t C = cameras_.size();
  // Noisier keypoints disagree more when right: the wrong-pairing threshold scales with them.
  const double max_residual = params_.max_residual_px * noise_px / params_.pixel_sigma;
  Point3 best;
  int used = 0;
  for (std::size_t c = 0; c < C; ++c) used += !std::isnan(pixels[2 * c]);
  if (used < 2) return best;
  geometry::TriangulationOptions opt;
  opt.threads = 1;  // one point: a thread start would cost more than the solve
  double X[3], residual;
  // geometry reports the views used as a bit mask (bit c = camera c); we keep how many.
  std::uint32_t views = 0;
  geometry::triangulate(cameras_, pixels, 1, opt, X, &residual, &views);
  if (std::isfinite(residual) && residual <= max_residual) {
    best.ok = true;
  } else if (used >= 3) {
    // One wrong pairing (a wrist of a neighbour, a false detection): drop each view in turn
    // and keep the subset that agrees best.
    std::vector<double> sub(pixels, pixels + 2 * C);
    double best_residual = std::numeric_limits<double>::infinity();
    for (std::size_t drop = 0; drop < C; ++drop) {
      if (std::isnan(pixels[2 * drop])) continue;
      sub.assign(pixels, pixels + 2 * C);
      sub[2 * drop] = sub[2 * drop + 1] = kNaN;
      double Y[3], r;
      std::uint32_t v = 0;
      geometry::triangulate(cameras_, sub.data(), 1, opt, Y, &r, &v);
      if (std::isfinite(r) && r < best_residual) {
        best_residual = r;
        std::copy(Y, Y + 3, X);
        views = v;
        residual = r;
      }
    }
    best.ok = best_residual <= max_residual;
  }
  if (!best.ok) return best;
  std::copy(X, X + 3, best.xyz);
  best.views = __builtin_popcount(views);
  // The residual measures the keypoints' actual disagreement: a point whose views disagree
  // by more than the assumed pixel noise is that much less certain (hidden joints are
  // placed with several times the noise of seen ones). Scaling keeps noisy arm-model hands
  // from outweighing measured ones in the engine's per-hand filter.
  best.sigma = view_sigma(X, pixels, noise_px) * std::max(1.0, residual / noise_px);
  return best;
}

// The fallback for a hand that only one camera gives: its wrist (seen, or hidden and
// extrapolated along the arm in that image: elbow + forearm_ratio · (elbow − shoulder)) lies
// on one ray, and the depth along the ray is what one view cannot measure. The person stands
// in front of one face (the nearest open face to a point above their feet); a hand that
// reaches is at that face, so the answer is the ray's point nearest to a prior there: on the
// face plane for a seen wrist, hidden_depth behind it for a hidden one (the shelf is what
// hides a wrist inside it), at prior_height, straight in front of the person. A ray running
// along the face measures the depth itself; one looking into it cannot, so a seen wrist on
// such a ray (|cos| to the normal above max_facing_cosine) is left out: its guess at depth 0
// would end or split a reach that other frames measured. Views are tried seen wrists first,
// most confident first; the first that passes wins.
bool HandLocator::single_view(const double* keypoints, std::size_t p, int side,
                              const double* xy, HandEstimate* e) const {
  const std::size_t C = cameras_.size();
  if (shelves_.faces().empty()) return false;
  // A person other cameras see too has an arm they would have seen reaching: one view of it
  // is more often an arm hidden by the body than a hand hidden by the shelf.
  int person_views = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const double* kp = keypoints + (p * C + c) * kKeypoints * 3;
    bool any = false;
    for (int j = 0; j < kKeypoints; ++j) any = any || kp[3 * j + 2] > 0;
    person_views += any;
  }
  if (person_views > params_.max_person_views) return false;
  const double probe[3] = {xy[0], xy[1], params_.prior_height};
  const int f = shelves_.nearest_face(probe, nullptr);
  if (f < 0) return false;
  const Face& face = shelves_.faces()[static_cast<std::size_t>(f)];
  const double stand = (xy[0] - face.ox) * face.nx + (xy[1] - face.oy) * face.ny;
  const double along = (xy[0] - face.ox) * face.ax + (xy[1] - face.oy) * face.ay;
  // kStandSlack: the floor point's own error (a decimetre) before "in front of" fails.
  constexpr double kStandSlack = 0.1;
  if (stand < -kStandSlack || stand > params_.max_face_distance || along < -kStandSlack ||
      along > face.length + kStandSlack)
    return false;
  // Candidate views: (seen?, confidence, camera, pixel).
  struct View {
    bool seen;
    double conf;
    std::size_t cam;
    double uv[2];
  };
  std::vector<View> views;
  for (std::size_t c = 0; c < C; ++c) {
    const double* kp = keypoints + (p * C + c) * kKeypoints * 3;
    const double* w = kp + kWrist[side] * 3;
    const double* el = kp + kElbow[side] * 3;
    const double* sh = kp + kShoulder[side] * 3;
    if (w[2] > 0 && w[2] >= params_.min_wrist_confidence && std::isfinite(w[0]) && std::isfinite(w[1])) {
      views.push_back({true, w[2], c, {w[0], w[1]}});
    } else if (params_.hidden_single_view && w[2] > 0 && w[2] >= params_.min_hidden_wrist_confidence &&
               std::isfinite(w[0]) && std::isfinite(w[1])) {
      // A hidden wrist the pose model placed: its own pixel, not the arm's extrapolation.
      views.push_back({false, w[2], c, {w[0], w[1]}});
    } else if (params_.hidden_single_view && el[2] > 0 && sh[2] > 0 && el[2] >= params_.min_arm_confidence &&
               sh[2] >= params_.min_arm_confidence && std::isfinite(el[0] + el[1] + sh[0] + sh[1])) {
      const double r = params_.forearm_ratio;
      views.push_back({false, std::min(el[2], sh[2]), c,
                       {el[0] + r * (el[0] - sh[0]), el[1] + r * (el[1] - sh[1])}});
    }
  }
  // Seen first, then the most confident, then the lower camera index (a stable order).
  std::sort(views.begin(), views.end(), [](const View& a, const View& b) {
    if (a.seen != b.seen) return a.seen;
    if (a.conf != b.conf) return a.conf > b.conf;
    return a.cam < b.cam;
  });
  for (const View& v : views) {
    double d[3];
    geometry::rays_from_image(cameras_[v.cam], v.uv, 1, d, 1);
    if (!std::isfinite(d[0])) continue;
    const double facing = std::fabs(d[0] * face.nx + d[1] * face.ny);
    if (v.seen && facing > params_.max_facing_cosine) continue;
    const double depth = v.seen ? 0.0 : params_.hidden_depth;
    const double prior[3] = {xy[0] - face.nx * (stand + depth), xy[1] - face.ny * (stand + depth),
                             params_.prior_height};
    const auto& O = centres_[v.cam];
    const double t = (prior[0] - O[0]) * d[0] + (prior[1] - O[1]) * d[1] + (prior[2] - O[2]) * d[2];
    if (!(t > 0)) continue;
    const double X[3] = {O[0] + t * d[0], O[1] + t * d[1], O[2] + t * d[2]};
    if (!(dist3(X, prior) <= params_.max_prior_distance)) continue;
    std::copy(X, X + 3, e->xyz);
    const double ray_sigma = params_.pixel_sigma * t / cameras_[v.cam].fx;
    e->sigma = std::sqrt(ray_sigma * ray_sigma + params_.single_view_sigma * params_.single_view_sigma);
    e->source = HandSource::FaceRay;
    e->views = 1;
    return true;
  }
  return false;
}

void HandLocator::locate(const double* keypoints, const double* track_xy, std::size_t n,
                         HandEstimate* out) const {
  const std::size_t C = cameras_.size();
  std::vector<double> px(2 * C);
  // Pixels of joint j of person p in every camera whose confidence reaches `min_conf`.
  auto gather = [&](std::size_t p, int j, double min_conf) {
    int k = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const double* kp = keypoints + ((p * C + c) * kKeypoints + static_cast<std::size_t>(j)) * 3;
      const bool use = kp[2] > 0 && kp[2] >= min_conf && std::isfinite(kp[0]) && std::isfinite(kp[1]);
      px[2 * c] = use ? kp[0] : kNaN;
      px[2 * c + 1] = use ? kp[1] : kNaN;
      k += use;
    }
    return k;
  };
  for (std::size_t p = 0; p < n; ++p) {
    for (int side = 0; side < 2; ++side) {
      HandEstimate& e = out[2 * p + static_cast<std::size_t>(side)];
      e = HandEstimate{};
      // 1. The wrist in two or more views.
      const int wrist_views = gather(p, kWrist[side], params_.min_wrist_confidence);
      std::vector<double> wrist_px = px;
      // The arm, for the consistency check and the fallbacks.
      gather(p, kElbow[side], params_.min_arm_confidence);
      const Point3 elbow = triangulate_joint(px.data(), params_.pixel_sigma);
      gather(p, kShoulder[side], params_.min_arm_confidence);
      const Point3 shoulder = triangulate_joint(px.data(), params_.pixel_sigma);
      // Two views whose rays meet at a small angle agree on a wrong point as well as on a
      // right one (the residual cannot tell): a wrist further from its own shoulder than an
      // arm reaches is such a point, or a neighbour's wrist in this person's detections. It
      // is not used, and the arm decides below.
      auto triangulated = [&](const std::vector<double>& wpx, double noise_px) {
        const Point3 w = triangulate_joint(wpx.data(), noise_px);
        const bool arm_ok = !shoulder.ok || dist3(w.xyz, shoulder.xyz) <= params_.max_arm_reach;
        if (!(w.ok && arm_ok)) return false;
        std::copy(w.xyz, w.xyz + 3, e.xyz);
        e.sigma = w.sigma;
        e.source = HandSource::Triangulated;
        e.views = w.views;
        return true;
      };
      if (wrist_views >= 2 && triangulated(wrist_px, params_.pixel_sigma)) continue;
      // 1b. With the hidden wrists too (inside a shelf most views have only those): a new set
      // of views only when it adds one, at their larger noise.
      const int any_views = gather(p, kWrist[side], std::min(params_.min_hidden_wrist_confidence,
                                                             params_.min_wrist_confidence));
      const std::vector<double> any_px = px;
      if (any_views >= 2 && any_views > wrist_views && triangulated(any_px, params_.hidden_pixel_sigma))
        continue;
      // The most confident single wrist view, hidden ones included, if any.
      int view = -1;
      double view_conf = 0.0;
      for (std::size_t c = 0; c < C; ++c) {
        const double* kp = keypoints + ((p * C + c) * kKeypoints + static_cast<std::size_t>(kWrist[side])) * 3;
        if (!std::isnan(any_px[2 * c]) && kp[2] > view_conf) {
          view = static_cast<int>(c);
          view_conf = kp[2];
        }
      }
      const double view_noise =
          view_conf >= params_.min_wrist_confidence ? params_.pixel_sigma : params_.hidden_pixel_sigma;
      double O[3] = {0, 0, 0}, d[3] = {0, 0, 0};
      bool ray_ok = false;
      if (view >= 0) {
        const auto& cam = cameras_[static_cast<std::size_t>(view)];
        geometry::rays_from_image(cam, &any_px[2 * static_cast<std::size_t>(view)], 1, d, 1);
        const auto& c = centres_[static_cast<std::size_t>(view)];
        std::copy(c.begin(), c.end(), O);
        ray_ok = std::isfinite(d[0]);
      }
      // 2. One wrist ray and the elbow: the point on the ray a forearm away from the elbow.
      if (ray_ok && elbow.ok) {
        const double fore = shoulder.ok ? params_.forearm_ratio * dist3(elbow.xyz, shoulder.xyz)
                                        : 0.25;  // about 0.146 H for a 1.7 m adult
        double w0[3];  // arm-model guess, to choose between the two sphere crossings
        if (shoulder.ok)
          arm_wrist(shoulder.xyz, elbow.xyz, params_.forearm_ratio, params_.elbow_flexion, w0);
        else
          std::copy(elbow.xyz, elbow.xyz + 3, w0);
        double oe[3] = {O[0] - elbow.xyz[0], O[1] - elbow.xyz[1], O[2] - elbow.xyz[2]};
        const double b = d[0] * oe[0] + d[1] * oe[1] + d[2] * oe[2];
        const double cterm = oe[0] * oe[0] + oe[1] * oe[1] + oe[2] * oe[2] - fore * fore;
        const double disc = b * b - cterm;
        double t = -b;  // closest point to the elbow when the ray misses the sphere
        if (disc >= 0) {
          const double t1 = -b - std::sqrt(disc), t2 = -b + std::sqrt(disc);
          double p1[3], p2[3];
          for (int k = 0; k < 3; ++k) {
            p1[k] = O[k] + t1 * d[k];
            p2[k] = O[k] + t2 * d[k];
          }
          t = dist3(p1, w0) <= dist3(p2, w0) ? t1 : t2;
        }
        for (int k = 0; k < 3; ++k) e.xyz[k] = O[k] + t * d[k];
        const double ray_sigma = view_noise * t / cameras_[static_cast<std::size_t>(view)].fx;
        e.sigma = std::sqrt(ray_sigma * ray_sigma + elbow.sigma * elbow.sigma +
                            params_.arm_sigma * params_.arm_sigma);
        e.source = HandSource::WristRayElbow;
        e.views = 1;
        continue;
      }
      // 3. No usable wrist: the arm model.
      if (elbow.ok && shoulder.ok) {
        arm_wrist(shoulder.xyz, elbow.xyz, params_.forearm_ratio, params_.elbow_flexion, e.xyz);
        e.sigma = std::sqrt(elbow.sigma * elbow.sigma * (1 + params_.forearm_ratio) *
                                (1 + params_.forearm_ratio) +
                            params_.arm_sigma * params_.arm_sigma);
        e.source = HandSource::ArmExtrapolated;
        e.views = 0;
        continue;
      }
      // 4. One view: the wrist's ray met with the nearest face in front of the person.
      if (single_view(keypoints, p, side, track_xy + 2 * p, &e)) continue;
    }
  }
  // A hand far from its person's floor point belongs to someone else (or to nobody).
  for (std::size_t i = 0; i < 2 * n; ++i) {
    HandEstimate& e = out[i];
    if (e.source == HandSource::None) continue;
    const double dx = e.xyz[0] - track_xy[2 * (i / 2)], dy = e.xyz[1] - track_xy[2 * (i / 2) + 1];
    if (!(std::sqrt(dx * dx + dy * dy) <= params_.max_hand_distance)) {
      e = HandEstimate{};
      continue;
    }
    // A one-view wrist further from its own shoulder than an arm reaches is a neighbour's
    // wrist in this person's detections (crowded shelves). Triangulated wrists were checked
    // against the arm above; the arm-model sources are within reach by construction.
    if (e.source == HandSource::FaceRay) {
      gather(i / 2, kShoulder[i % 2], params_.min_arm_confidence);
      const Point3 shoulder = triangulate_joint(px.data(), params_.pixel_sigma);
      if (shoulder.ok && dist3(shoulder.xyz, e.xyz) > params_.max_arm_reach) e = HandEstimate{};
    }
  }
}

}  // namespace walkout::interact
