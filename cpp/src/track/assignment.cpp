// Jonker-Volgenant linear assignment; see assignment.hpp for the contract and references.
//
// Internally the solver only sees finite costs on a matrix with rows <= cols:
// - a wider-than-tall input is solved as is, a taller one through its transpose;
// - with a cost limit, costs above it (and +inf) are clamped to the limit and the pairs that
//   were above it are dropped afterwards (clamping turns "leave unmatched" into "match at
//   cost_limit", which has the same optimum up to a constant);
// - without one, +inf becomes a finite "big M" larger than any complete matching without it
//   could cost, so an optimum that still uses a big-M pair proves the problem infeasible.
#include "walkout/track/assignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace walkout::track {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Index = std::ptrdiff_t;

// Dual state of the solver: x[row] = matched column or -1, y[col] = matched row or -1,
// v[col] = column dual. Row duals stay implicit (u_i = c_ij - v_j on the matched column).
struct Solver {
  const double* c;
  Index n_rows, n_cols;
  std::vector<Index> x, y;
  std::vector<double> v;
  // Scratch for the augmentation, kept across rows to avoid reallocation.
  std::vector<double> d;
  std::vector<Index> pred, collist;

  Solver(const double* cost, Index r, Index cc)
      : c(cost), n_rows(r), n_cols(cc), x(r, -1), y(cc, -1), v(cc, 0.0), d(cc), pred(cc),
        collist(cc) {}

  double at(Index i, Index j) const { return c[i * n_cols + j]; }

  // Column reduction and reduction transfer (JV 1987, section 4). Square only. Returns the
  // rows left free. Each column's dual becomes its minimum; a row that is the minimum of
  // exactly one column takes it, and then hands that column as much slack as its second-best
  // option allows, so later augmenting paths are shorter.
  std::vector<Index> column_reduction() {
    const Index n = n_rows;
    std::vector<int> matches(n, 0);
    for (Index j = n - 1; j >= 0; --j) {
      Index imin = 0;
      double mn = at(0, j);
      for (Index i = 1; i < n; ++i) {
        const double h = at(i, j);
        if (h < mn) {  // strict: ties keep the lowest row, a deterministic choice
          mn = h;
          imin = i;
        }
      }
      v[j] = mn;
      if (++matches[imin] == 1) {
        x[imin] = j;
        y[j] = imin;
      } else {
        y[j] = -1;  // the row already holds a column; this one stays free
      }
    }
    std::vector<Index> free_rows;
    for (Index i = 0; i < n; ++i) {
      if (matches[i] == 0) {
        free_rows.push_back(i);
      } else if (matches[i] == 1) {
        const Index j1 = x[i];
        double mn = kInf;
        for (Index j = 0; j < n; ++j)
          if (j != j1) mn = std::min(mn, at(i, j) - v[j]);
        v[j1] = at(i, j1) - mn;
      }
    }
    return free_rows;
  }

  // Augmenting row reduction (JV 1987, section 4): each free row takes its cheapest column,
  // lowering that column's dual to the gap to its second cheapest, and evicts the previous
  // owner. The paper repeats this twice. It is only a heuristic (the augmentation below
  // finishes the job), so the number of evictions is capped: with near-ties in floating
  // point the evictions can otherwise ping-pong for a long time on tiny dual decrements.
  std::vector<Index> augmenting_row_reduction(const std::vector<Index>& free_in) {
    const Index n = n_rows;
    std::vector<Index> free_rows(free_in);
    Index num_free = static_cast<Index>(free_rows.size());
    Index budget = 8 * n + 64;
    for (int pass = 0; pass < 2 && num_free > 0; ++pass) {
      Index k = 0;
      const Index prev_num_free = num_free;
      num_free = 0;
      while (k < prev_num_free) {
        const Index i = free_rows[k++];
        double umin = at(i, 0) - v[0];
        Index j1 = 0, j2 = -1;
        double usubmin = kInf;
        for (Index j = 1; j < n; ++j) {
          const double h = at(i, j) - v[j];
          if (h < usubmin) {
            if (h >= umin) {
              usubmin = h;
              j2 = j;
            } else {
              usubmin = umin;
              umin = h;
              j2 = j1;
              j1 = j;
            }
          }
        }
        Index i0 = y[j1];
        const bool strictly_better = umin < usubmin;
        if (strictly_better) {
          v[j1] -= usubmin - umin;
        } else if (i0 >= 0 && j2 >= 0) {
          // Tie between the two best columns: take the second, which may be free, rather
          // than evict for no gain.
          j1 = j2;
          i0 = y[j1];
        }
        if (i0 >= 0) x[i0] = -1;
        x[i] = j1;
        y[j1] = i;
        if (i0 >= 0) {
          if (strictly_better && --budget > 0) {
            free_rows[--k] = i0;  // the evicted row goes again at once (the dual dropped)
          } else {
            free_rows[num_free++] = i0;
          }
        }
      }
    }
    free_rows.resize(num_free);
    return free_rows;
  }

  // Shortest augmenting path from free row `f` (Dijkstra on reduced costs c_ij - v_j,
  // scanning all columns at the current minimum distance together, as in JV's lapjv),
  // then the dual update of the scanned columns and the flip along the path.
  void augment(Index f) {
    const Index m = n_cols;
    for (Index j = 0; j < m; ++j) {
      d[j] = at(f, j) - v[j];
      pred[j] = f;
      collist[j] = j;
    }
    // collist[0, low): scanned (final distance); [low, up): at distance mn, to scan;
    // [up, m): not reached at the minimum yet.
    Index low = 0, up = 0, end_of_path = -1;
    double mn = 0.0;
    while (end_of_path < 0) {
      if (up == low) {
        // Gather the columns at the new minimum distance.
        mn = d[collist[up++]];
        for (Index k = up; k < m; ++k) {
          const Index j = collist[k];
          const double h = d[j];
          if (h <= mn) {
            if (h < mn) {
              up = low;
              mn = h;
            }
            collist[k] = collist[up];
            collist[up++] = j;
          }
        }
        for (Index k = low; k < up; ++k) {
          if (y[collist[k]] < 0) {
            end_of_path = collist[k];
            break;
          }
        }
        if (end_of_path >= 0) break;
      }
      // Scan one column at distance mn through the row that owns it.
      const Index j1 = collist[low++];
      const Index i = y[j1];
      const double u1 = at(i, j1) - v[j1] - mn;
      const double* row = c + i * n_cols;
      for (Index k = up; k < m; ++k) {
        const Index j = collist[k];
        const double h = row[j] - v[j] - u1;
        if (h < d[j]) {
          d[j] = h;
          pred[j] = i;
          if (h == mn) {
            if (y[j] < 0) {
              end_of_path = j;
              break;
            }
            collist[k] = collist[up];
            collist[up++] = j;
          }
        }
      }
    }
    // Scanned columns got their final distance below mn: lower their duals so that the
    // reduced costs stay non-negative and the new path is tight.
    for (Index k = 0; k < low; ++k) {
      const Index j = collist[k];
      v[j] += d[j] - mn;
    }
    Index j = end_of_path;
    for (;;) {
      const Index i = pred[j];
      y[j] = i;
      const Index next = x[i];
      x[i] = j;
      if (i == f) break;
      j = next;
    }
  }
};

void check_values(const double* cost, std::size_t count) {
  for (std::size_t k = 0; k < count; ++k) {
    const double c = cost[k];
    if (std::isnan(c) || c == -kInf) {
      throw std::invalid_argument("cost: entries must not be NaN or -inf (found " +
                                  std::string(std::isnan(c) ? "NaN" : "-inf") + ")");
    }
  }
}

}  // namespace

AssignmentResult linear_assignment(const double* cost, std::size_t rows, std::size_t cols,
                                   bool has_cost_limit, double cost_limit) {
  AssignmentResult out;
  if (has_cost_limit && std::isnan(cost_limit))
    throw std::invalid_argument("cost_limit: expected a number, got NaN");
  if (has_cost_limit && cost_limit == kInf) has_cost_limit = false;  // no limit at all
  if (has_cost_limit && cost_limit == -kInf)
    throw std::invalid_argument("cost_limit: expected a finite number or +inf, got -inf");
  if (rows == 0 || cols == 0) return out;
  check_values(cost, rows * cols);

  // Work copy: rows <= cols, finite.
  const bool transposed = rows > cols;
  const Index nr = static_cast<Index>(transposed ? cols : rows);
  const Index nc = static_cast<Index>(transposed ? rows : cols);
  std::vector<double> work(static_cast<std::size_t>(nr * nc));
  for (Index i = 0; i < nr; ++i)
    for (Index j = 0; j < nc; ++j)
      work[i * nc + j] = transposed ? cost[j * cols + i] : cost[i * cols + j];

  double big = 0.0;
  if (has_cost_limit) {
    for (double& w : work) w = std::min(w, cost_limit);
  } else {
    double lo = kInf, hi = -kInf;
    bool any_inf = false;
    for (double w : work) {
      if (w == kInf) {
        any_inf = true;
      } else {
        lo = std::min(lo, w);
        hi = std::max(hi, w);
      }
    }
    if (any_inf) {
      if (lo == kInf) throw InfeasibleAssignment("cost matrix is infeasible (every cost is +inf)");
      // Any matching that avoids big costs totals at most nr*hi; one that uses a big cost
      // totals at least big + (nr-1)*lo. big below makes the second strictly larger.
      big = hi + static_cast<double>(nr + 1) * (hi - lo + 1.0);
      for (double& w : work)
        if (w == kInf) w = big;
    }
  }

  Solver s(work.data(), nr, nc);
  if (nr == nc && nr > 1) {
    std::vector<Index> free_rows = s.column_reduction();
    free_rows = s.augmenting_row_reduction(free_rows);
    for (Index f : free_rows) s.augment(f);
  } else {
    for (Index f = 0; f < nr; ++f) s.augment(f);
  }

  // Collect pairs in the caller's orientation, rows ascending.
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  pairs.reserve(static_cast<std::size_t>(nr));
  for (Index i = 0; i < nr; ++i) {
    const Index j = s.x[i];
    const std::int64_t r = transposed ? j : i;
    const std::int64_t c = transposed ? i : j;
    const double original = cost[r * static_cast<std::int64_t>(cols) + c];
    if (has_cost_limit) {
      if (original > cost_limit) continue;  // clamped pair: means "leave unmatched"
    } else if (original == kInf) {
      throw InfeasibleAssignment("cost matrix is infeasible: no complete assignment avoids +inf costs");
    }
    pairs.emplace_back(r, c);
  }
  if (transposed) std::sort(pairs.begin(), pairs.end());
  out.rows.reserve(pairs.size());
  out.cols.reserve(pairs.size());
  for (const auto& p : pairs) {
    out.rows.push_back(p.first);
    out.cols.push_back(p.second);
  }
  return out;
}

}  // namespace walkout::track
