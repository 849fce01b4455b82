// Chi-square quantiles for Mahalanobis gating (see kalman.hpp).
#include <cmath>
#include <stdexcept>
#include <string>

#include "walkout/track/kalman.hpp"

namespace walkout::track {
namespace {

// Regularised lower incomplete gamma P(a, x) by its power series (Numerical Recipes 6.2),
// enough for the small dof and quantiles used in gating.
double lower_gamma_regularised(double a, double x) {
  if (x <= 0.0) return 0.0;
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < 1000; ++n) {
    term *= x / (a + n);
    sum += term;
    if (term < sum * 1e-16) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

}  // namespace

double chi2_quantile(double probability, int dof) {
  if (!(probability > 0.0 && probability < 1.0))
    throw std::invalid_argument("gate_probability: expected a value in (0, 1), got " +
                                std::to_string(probability));
  if (dof < 1) throw std::invalid_argument("dof: expected >= 1");
  const double a = 0.5 * dof;
  double lo = 0.0, hi = 1.0;
  while (lower_gamma_regularised(a, 0.5 * hi) < probability) hi *= 2.0;
  for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (lower_gamma_regularised(a, 0.5 * mid) < probability) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace walkout::track
