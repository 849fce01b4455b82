// Constant-velocity Kalman filters in float64, batched: the states of all tracks live in one
// contiguous array of means (N x D) and one of covariances (N x D x D), never one object per
// track, so a frame's predict or update is one pass over memory.
//
// State: x = (p_0 .. p_{M-1}, v_0 .. v_{M-1}), D = 2M: M measured quantities and their rates
// of change per second. Measurement: z = H x = (p_0 .. p_{M-1}) (H selects the first M).
// Motion: p += dt * v with dt in seconds from real timestamps (never a frame count).
// Process noise: independent per component i, a 2x2 block on (p_i, v_i):
//   Q = [[qa_i, qb_i], [qb_i, qc_i]]
// whose values the model computes from dt (and, for boxes, from the box size).
//
// Two models use it:
// - box (M = 4, p = cx, cy, w, h in pixels; the state of BoT-SORT's xywh filter, chosen over
//   SORT's (s, r) and ByteTrack's (a, h) because width and height then move independently);
//   noise scales with the box size, so near and far people are tracked alike;
// - floor point (M = 2, p = x, y in metres): white-noise-acceleration model (Bar-Shalom,
//   "Estimation with Applications to Tracking and Navigation", 2001, section 6.2.2), and a
//   measurement covariance per measurement (from the camera geometry, as in UCMCTrack).
#pragma once

#include <cmath>
#include <cstddef>

namespace walkout::track {

// Box filter noise, per second of elapsed time (variances grow linearly with dt) and as a
// fraction of the box size.
struct BoxNoise {
  // Position random walk, std per sqrt(second) as a fraction of the box side. Raising it
  // trusts detections more (snappier, noisier boxes); lowering it smooths more but lags turns.
  double position_per_sqrt_s = 0.27;
  // Velocity random walk, std per sqrt(second) as a fraction of the box side per second.
  // Raising it follows accelerations faster; lowering it coasts straighter through occlusion.
  double velocity_per_sqrt_s = 1.0;
  // Measurement noise std as a fraction of the box side. Raising it trusts the motion model
  // more than each detection; lowering it follows detections (and their jitter) closely.
  double measurement = 0.05;
  // Initial velocity std, as a fraction of the box side per second, for a new track.
  double initial_velocity = 1.0;
  // Initial position std, as a fraction of the box side, for a new track.
  double initial_position = 0.1;
};

// Floor filter noise in metres and seconds.
struct FloorNoise {
  // Acceleration std in m/s^2 (white-noise acceleration). Raising it follows turns and stops
  // faster but gates wider and swaps more easily in crowds; lowering it coasts straighter.
  // 0.5 suits walking shoppers (tests/scenes.py walkers: 0.3; 1.0 cost ~8 IDF1 points there).
  double acceleration = 0.5;
  // Default measurement std in metres when no covariance is given per measurement.
  double measurement = 0.15;
  // Initial velocity std in m/s for a new track (a walking pace is ~1.4 m/s).
  double initial_velocity = 1.5;
};

namespace kalman {

// Process-noise blocks (qa, qb, qc) for component i of a box state `x` over dt seconds.
inline void box_process_noise(const double* x, double dt, const BoxNoise& n, double* qa,
                              double* qb, double* qc) {
  const double w = std::fabs(x[2]), h = std::fabs(x[3]);
  const double side[4] = {w, h, w, h};
  for (int i = 0; i < 4; ++i) {
    const double sp = n.position_per_sqrt_s * side[i], sv = n.velocity_per_sqrt_s * side[i];
    qa[i] = sp * sp * dt;
    qb[i] = 0.0;
    qc[i] = sv * sv * dt;
  }
}

// Measurement-noise diagonal for a box state `x`.
inline void box_measurement_noise(const double* x, const BoxNoise& n, double* r_diag) {
  const double w = std::fabs(x[2]), h = std::fabs(x[3]);
  const double side[4] = {w, h, w, h};
  for (int i = 0; i < 4; ++i) r_diag[i] = (n.measurement * side[i]) * (n.measurement * side[i]);
}

inline void floor_process_noise(double dt, const FloorNoise& n, double* qa, double* qb,
                                double* qc) {
  const double q = n.acceleration * n.acceleration;
  for (int i = 0; i < 2; ++i) {
    qa[i] = q * dt * dt * dt / 3.0;
    qb[i] = q * dt * dt / 2.0;
    qc[i] = q * dt;
  }
}

// Predict one track in place: x (D), P (D x D row-major), dt seconds, noise blocks.
template <int M>
inline void cv_predict(double* x, double* P, double dt, const double* qa, const double* qb,
                       const double* qc) {
  constexpr int D = 2 * M;
  for (int i = 0; i < M; ++i) x[i] += dt * x[M + i];
  // P = F P F^T with F = [[I, dt I], [0, I]], in blocks P = [[A, B], [B^T, C]]:
  //   A' = A + dt (B + B^T) + dt^2 C,  B' = B + dt C,  C' = C.
  // First rows: P[r][:] += dt * P[M + r][:]  (F P), then columns: P[:][c] += dt * P[:][M + c].
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < D; ++c) P[r * D + c] += dt * P[(M + r) * D + c];
  for (int r = 0; r < D; ++r)
    for (int c = 0; c < M; ++c) P[r * D + c] += dt * P[r * D + M + c];
  for (int i = 0; i < M; ++i) {
    P[i * D + i] += qa[i];
    P[i * D + M + i] += qb[i];
    P[(M + i) * D + i] += qb[i];
    P[(M + i) * D + M + i] += qc[i];
  }
}

// Inverts a symmetric positive-definite M x M matrix by Cholesky; returns false when it is
// not positive definite. Also gives log det.
template <int M>
inline bool spd_inverse(const double* S, double* Sinv, double* log_det) {
  // Cholesky S = L L^T, keeping 1 / L_ii (divisions cost as much as the rest together).
  double L[M * M] = {};
  double inv_diag[M];
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = S[i * M + j];
      for (int k = 0; k < j; ++k) s -= L[i * M + k] * L[j * M + k];
      if (i == j) {
        if (!(s > 0.0)) return false;
        L[i * M + i] = std::sqrt(s);
        inv_diag[i] = 1.0 / L[i * M + i];
      } else {
        L[i * M + j] = s * inv_diag[j];
      }
    }
  }
  if (log_det) {  // only gating needs it; a log per row is not free
    double ld = 0.0;
    for (int i = 0; i < M; ++i) ld += 2.0 * std::log(L[i * M + i]);
    *log_det = ld;
  }
  // Linv (lower), then Sinv = Linv^T Linv.
  double Li[M * M] = {};
  for (int i = 0; i < M; ++i) {
    Li[i * M + i] = inv_diag[i];
    for (int j = 0; j < i; ++j) {
      double s = 0.0;
      for (int k = j; k < i; ++k) s -= L[i * M + k] * Li[k * M + j];
      Li[i * M + j] = s * inv_diag[i];
    }
  }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j <= i; ++j) {
      double s = 0.0;
      for (int k = i; k < M; ++k) s += Li[k * M + i] * Li[k * M + j];
      Sinv[i * M + j] = s;
      Sinv[j * M + i] = s;
    }
  return true;
}

// Innovation covariance S = H P H^T + R (= P's top-left block + R) for one track.
template <int M>
inline void innovation_cov(const double* P, const double* R, double* S) {
  constexpr int D = 2 * M;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < M; ++j) S[i * M + j] = P[i * D + j] + R[i * M + j];
}

// Squared Mahalanobis distance of measurement z from the prediction of (x, P) with
// measurement covariance R; +inf if S is not positive definite. log_det_s gets ln|S|.
template <int M>
inline double mahalanobis_sq(const double* x, const double* P, const double* z, const double* R,
                             double* log_det_s = nullptr) {
  double S[M * M], Si[M * M];
  innovation_cov<M>(P, R, S);
  if (!spd_inverse<M>(S, Si, log_det_s)) return INFINITY;
  double y[M];
  for (int i = 0; i < M; ++i) y[i] = z[i] - x[i];
  double d = 0.0;
  for (int i = 0; i < M; ++i) {
    double s = 0.0;
    for (int j = 0; j < M; ++j) s += Si[i * M + j] * y[j];
    d += y[i] * s;
  }
  return d;
}

// Update one track in place with measurement z (M) and covariance R (M x M). Returns false
// (and leaves the track untouched) if the innovation covariance is not positive definite.
//   S = P_pp + R, K = P[:, :M] S^-1, x += K (z - x_p), P -= K P[:M, :]
// The last form equals (I - KH) P; it is symmetrised to keep rounding from building up.
template <int M>
inline bool cv_update(double* x, double* P, const double* z, const double* R) {
  constexpr int D = 2 * M;
  double S[M * M], Si[M * M];
  innovation_cov<M>(P, R, S);
  if (!spd_inverse<M>(S, Si, nullptr)) return false;
  double K[D * M];
  for (int r = 0; r < D; ++r)
    for (int c = 0; c < M; ++c) {
      double s = 0.0;
      for (int k = 0; k < M; ++k) s += P[r * D + k] * Si[k * M + c];
      K[r * M + c] = s;
    }
  double y[M];
  for (int i = 0; i < M; ++i) y[i] = z[i] - x[i];
  for (int r = 0; r < D; ++r) {
    double s = 0.0;
    for (int k = 0; k < M; ++k) s += K[r * M + k] * y[k];
    x[r] += s;
  }
  double top[M * D];  // P[:M, :] before the update
  for (int i = 0; i < M * D; ++i) top[i] = P[i];
  for (int r = 0; r < D; ++r)
    for (int c = r; c < D; ++c) {
      double s = 0.0;
      for (int k = 0; k < M; ++k) s += K[r * M + k] * top[k * D + c];
      const double a = P[r * D + c] - s;
      P[r * D + c] = a;
      P[c * D + r] = a;
    }
  return true;
}

// Updates n tracks at once, each with its own measurement z (M) and covariance R (M x M),
// in place; ok[k] = 0 (and track k untouched) where its innovation covariance is not
// positive definite. Same result as cv_update per track, computed as K^T = S^-1 P[:M, :]
// by a Cholesky solve. Tracks go through in blocks of 8 with the block index innermost:
// one track's update is a long chain of dependent square roots and divisions, and
// interleaving 8 independent chains (SIMD lanes) keeps the core busy. Measured 1.3x faster
// than cv_update in a loop for 50 box tracks (7.9 -> 5.9 us with the call's overhead).
template <int M>
inline void cv_update_batch(double* X, double* P, const double* Z, const double* R, std::size_t n,
                            char* ok) {
  constexpr int D = 2 * M;
  constexpr int B = 8;
  for (std::size_t base = 0; base < n; base += B) {
    const int nb = static_cast<int>(n - base < B ? n - base : B);
    // Lanes past the last track repeat it (results dropped), so every lane loop has the
    // compile-time trip count B and vectorises without remainder handling.
    std::size_t idx[B];
    for (int b = 0; b < B; ++b) idx[b] = base + static_cast<std::size_t>(b < nb ? b : nb - 1);
    double S[M * M][B], L[M * M][B], inv[M][B], top[M * D][B], W[M * D][B], y[M][B];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j <= i; ++j)
        for (int b = 0; b < B; ++b)
          S[i * M + j][b] = P[idx[b] * D * D + i * D + j] + R[idx[b] * M * M + i * M + j];
    for (int k = 0; k < M * D; ++k)
      for (int b = 0; b < B; ++b) top[k][b] = P[idx[b] * D * D + k];
    for (int i = 0; i < M; ++i)
      for (int b = 0; b < B; ++b) y[i][b] = Z[idx[b] * M + i] - X[idx[b] * D + i];
    double good[B];
    for (int b = 0; b < B; ++b) good[b] = 1.0;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j <= i; ++j) {
        double s[B];
        for (int b = 0; b < B; ++b) s[b] = S[i * M + j][b];
        for (int k = 0; k < j; ++k)
          for (int b = 0; b < B; ++b) s[b] -= L[i * M + k][b] * L[j * M + k][b];
        if (i == j) {
          for (int b = 0; b < B; ++b) {
            good[b] = s[b] > 0.0 ? good[b] : 0.0;
            L[i * M + i][b] = std::sqrt(s[b] > 0.0 ? s[b] : 1.0);
            inv[i][b] = 1.0 / L[i * M + i][b];
          }
        } else {
          for (int b = 0; b < B; ++b) L[i * M + j][b] = s[b] * inv[j][b];
        }
      }
    // Forward: L W = top; back: L^T K^T = W (K^T overwrites W).
    for (int i = 0; i < M; ++i)
      for (int c = 0; c < D; ++c) {
        double s[B];
        for (int b = 0; b < B; ++b) s[b] = top[i * D + c][b];
        for (int k = 0; k < i; ++k)
          for (int b = 0; b < B; ++b) s[b] -= L[i * M + k][b] * W[k * D + c][b];
        for (int b = 0; b < B; ++b) W[i * D + c][b] = s[b] * inv[i][b];
      }
    for (int i = M - 1; i >= 0; --i)
      for (int c = 0; c < D; ++c) {
        double s[B];
        for (int b = 0; b < B; ++b) s[b] = W[i * D + c][b];
        for (int k = i + 1; k < M; ++k)
          for (int b = 0; b < B; ++b) s[b] -= L[k * M + i][b] * W[k * D + c][b];
        for (int b = 0; b < B; ++b) W[i * D + c][b] = s[b] * inv[i][b];
      }
    // New mean and covariance per lane (dx = K y, dP = K top), then the real lanes' write-back.
    double dx[D][B], dp[D * D][B];
    for (int c = 0; c < D; ++c) {
      for (int b = 0; b < B; ++b) dx[c][b] = 0.0;
      for (int i = 0; i < M; ++i)
        for (int b = 0; b < B; ++b) dx[c][b] += W[i * D + c][b] * y[i][b];
    }
    for (int rr = 0; rr < D; ++rr)
      for (int c = rr; c < D; ++c) {
        for (int b = 0; b < B; ++b) dp[rr * D + c][b] = 0.0;
        for (int k = 0; k < M; ++k)
          for (int b = 0; b < B; ++b) dp[rr * D + c][b] += W[k * D + rr][b] * top[k * D + c][b];
      }
    for (int b = 0; b < nb; ++b) {
      ok[base + b] = good[b] != 0.0;
      if (good[b] == 0.0) continue;
      double* xb = X + (base + b) * D;
      double* pb = P + (base + b) * D * D;
      for (int c = 0; c < D; ++c) xb[c] += dx[c][b];
      for (int rr = 0; rr < D; ++rr)
        for (int c = rr; c < D; ++c) {
          const double a = pb[rr * D + c] - dp[rr * D + c][b];
          pb[rr * D + c] = a;
          pb[c * D + rr] = a;
        }
    }
  }
}

}  // namespace kalman

// Chi-square quantile: the squared Mahalanobis distance below which a measurement of `dof`
// dimensions falls with `probability` (deep_sort tabulates the 0.95 values; this computes any).
double chi2_quantile(double probability, int dof);

}  // namespace walkout::track
