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

// The two smallest reduced costs h_j = row[j] - v[j] of one row: umin at its first column
// j1, the next smallest usubmin at j2 (-1 if n == 1). One branchy sweep: after the first
// few columns the two minima rarely change, so the branches predict well (a branch-free
// four-lane variant with a second sweep for the indices measured 2x slower).
inline void two_smallest(const double* row, const double* v, Index n, double& umin, Index& j1,
                         double& usubmin, Index& j2) {
  double m1 = row[0] - v[0], m2 = kInf;
  Index k1 = 0, k2 = -1;
  for (Index j = 1; j < n; ++j) {
    const double h = row[j] - v[j];
    if (h < m2) {
      if (h >= m1) {
        m2 = h;
        k2 = j;
      } else {
        m2 = m1;
        m1 = h;
        k2 = k1;
        k1 = j;
      }
    }
  }
  umin = m1;
  j1 = k1;
  usubmin = m2;
  j2 = k2;
}

// Dual state of the solver: x[row] = matched column or -1, y[col] = matched row or -1,
// v[col] = column dual. Row duals stay implicit (u_i = c_ij - v_j on the matched column).
struct Solver {
  const double* c;
  Index n_rows, n_cols;
  // Buffers live in a per-thread workspace reused across calls: at tracking sizes (10x10,
  // a microsecond of work) a dozen allocations per call were a third of the time.
  std::vector<Index>& x;
  std::vector<Index>& y;
  std::vector<double>& v;
  std::vector<double>& d;  // augmentation scratch: distances,
  std::vector<Index>& pred;  // predecessors,
  std::vector<Index>& collist;  // columns by scan state

  struct Workspace {
    std::vector<Index> x, y, pred, collist, free_rows;
    std::vector<double> v, d;
    std::vector<int> matches;
  };
  static Workspace& workspace() {
    thread_local Workspace w;
    return w;
  }

  Solver(const double* cost, Index r, Index cc)
      : c(cost), n_rows(r), n_cols(cc), x(workspace().x), y(workspace().y), v(workspace().v),
        d(workspace().d), pred(workspace().pred), collist(workspace().collist) {
    x.assign(static_cast<std::size_t>(r), -1);
    y.assign(static_cast<std::size_t>(cc), -1);
    v.assign(static_cast<std::size_t>(cc), 0.0);
    d.resize(static_cast<std::size_t>(cc));
    pred.resize(static_cast<std::size_t>(cc));
    collist.resize(static_cast<std::size_t>(cc));
  }

  double at(Index i, Index j) const { return c[i * n_cols + j]; }

  // Column reduction and reduction transfer (JV 1987, section 4). Square only. Returns the
  // rows left free. Each column's dual becomes its minimum; a row that is the minimum of
  // exactly one column takes it, and then hands that column as much slack as its second-best
  // option allows, so later augmenting paths are shorter.
  std::vector<Index>& column_reduction() {
    const Index n = n_rows;
    std::vector<int>& matches = workspace().matches;
    matches.assign(static_cast<std::size_t>(n), 0);
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
    std::vector<Index>& free_rows = workspace().free_rows;
    free_rows.clear();
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
  // Measured on uniform random costs (n = 50..1000): a budget of about n immediate
  // re-evictions is fastest; 8n was 1.3-1.6x slower overall, the Dijkstra augmentation
  // finishing the few rows left more cheaply than long eviction chains.
  // Works in place on free_rows and leaves in it the rows still free.
  void augmenting_row_reduction(std::vector<Index>& free_rows) {
    const Index n = n_rows;
    Index num_free = static_cast<Index>(free_rows.size());
    Index budget = n + 4;
    for (int pass = 0; pass < 2 && num_free > 0; ++pass) {
      Index k = 0;
      const Index prev_num_free = num_free;
      num_free = 0;
      while (k < prev_num_free) {
        const Index i = free_rows[k++];
        double umin, usubmin;
        Index j1, j2;
        two_smallest(c + i * n_cols, v.data(), n, umin, j1, usubmin, j2);
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
    free_rows.resize(static_cast<std::size_t>(num_free));
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

std::size_t linear_assignment(const double* cost, std::size_t rows, std::size_t cols,
                              bool has_cost_limit, double cost_limit, std::int64_t* rows_out,
                              std::int64_t* cols_out) {
  if (has_cost_limit && std::isnan(cost_limit))
    throw std::invalid_argument("cost_limit: expected a number, got NaN");
  if (has_cost_limit && cost_limit == kInf) has_cost_limit = false;  // no limit at all
  if (has_cost_limit && cost_limit == -kInf)
    throw std::invalid_argument("cost_limit: expected a finite number or +inf, got -inf");
  if (rows == 0 || cols == 0) return 0;

  // Work on a matrix with rows <= cols and finite costs: the input itself when it already
  // is one (the common case: no copy), else a transposed and/or clamped copy.
  const bool transposed = rows > cols;
  const Index nr = static_cast<Index>(transposed ? cols : rows);
  const Index nc = static_cast<Index>(transposed ? rows : cols);
  // One branch-free sweep for what decides the path: NaN or -inf (refused), +inf, costs
  // above the limit. (A sweep that also tracked min and max ran at the latency of two
  // dependent min/max chains, 4 cycles a cost: at 50x50 a third of the whole solve.)
  const double limit = has_cost_limit ? cost_limit : kInf;
  bool bad = false, any_inf = false, above_limit = false;
  for (std::size_t k = 0; k < rows * cols; ++k) {
    const double w = cost[k];
    bad |= !(w > -kInf);  // NaN compares false, -inf is not above -inf
    any_inf |= w == kInf;
    above_limit |= w > limit;
  }
  if (bad) check_values(cost, rows * cols);  // throws, naming the culprit
  std::vector<double> work;
  const double* solve_on = cost;
  if (transposed || (has_cost_limit ? above_limit : any_inf)) {
    work.resize(static_cast<std::size_t>(nr * nc));
    for (Index i = 0; i < nr; ++i)
      for (Index j = 0; j < nc; ++j)
        work[i * nc + j] = transposed ? cost[j * cols + i] : cost[i * cols + j];
    if (has_cost_limit) {
      for (double& w : work) w = std::min(w, cost_limit);
    } else if (any_inf) {
      double lo = kInf, hi = -kInf;
      for (double w : work) {
        if (w != kInf) {
          lo = std::min(lo, w);
          hi = std::max(hi, w);
        }
      }
      if (lo == kInf) throw InfeasibleAssignment("cost matrix is infeasible (every cost is +inf)");
      // Any matching that avoids big costs totals at most nr*hi; one that uses a big cost
      // totals at least big + (nr-1)*lo. big below makes the second strictly larger.
      const double big = hi + static_cast<double>(nr + 1) * (hi - lo + 1.0);
      for (double& w : work)
        if (w == kInf) w = big;
    }
    solve_on = work.data();
  }

  Solver s(solve_on, nr, nc);
  if (nr == nc && nr > 1) {
    std::vector<Index>& free_rows = s.column_reduction();
    s.augmenting_row_reduction(free_rows);
    for (Index f : free_rows) s.augment(f);
  } else {
    for (Index f = 0; f < nr; ++f) s.augment(f);
  }

  // Write pairs in the caller's orientation, rows ascending.
  std::size_t count = 0;
  auto emit = [&](std::int64_t r, std::int64_t c) {
    const double original = cost[r * static_cast<std::int64_t>(cols) + c];
    if (has_cost_limit) {
      if (original > cost_limit) return;  // clamped pair: "leave unmatched"
    } else if (original == kInf) {
      throw InfeasibleAssignment("cost matrix is infeasible: no complete assignment avoids +inf costs");
    }
    rows_out[count] = r;
    cols_out[count] = c;
    ++count;
  };
  if (!transposed) {
    for (Index i = 0; i < nr; ++i) emit(i, s.x[i]);
  } else {
    // The caller's rows are columns here: walk them in order through y.
    for (Index j = 0; j < nc; ++j)
      if (s.y[j] >= 0) emit(j, s.y[j]);
  }
  return count;
}

AssignmentResult linear_assignment(const double* cost, std::size_t rows, std::size_t cols,
                                   bool has_cost_limit, double cost_limit) {
  AssignmentResult out;
  out.rows.resize(std::min(rows, cols));
  out.cols.resize(std::min(rows, cols));
  const std::size_t k = linear_assignment(cost, rows, cols, has_cost_limit, cost_limit,
                                          out.rows.data(), out.cols.data());
  out.rows.resize(k);
  out.cols.resize(k);
  return out;
}

}  // namespace walkout::track
