// Rectangular linear assignment (minimum-cost bipartite matching) on a dense cost matrix.
//
// Inputs: a row-major rows x cols matrix of doubles. +inf marks a forbidden pair; NaN and
// -inf are refused. Output: the matched (row, col) pairs, rows ascending, as scipy's
// linear_sum_assignment returns them.
//
// Solver: Jonker & Volgenant, "A shortest augmenting path algorithm for dense and sparse
// linear assignment problems", Computing 38 (1987). Square problems get the paper's full
// initialisation (column reduction, reduction transfer, augmenting row reduction) before the
// Dijkstra-style augmentation; rectangular problems get the augmentation alone from v = 0,
// which keeps the dual of every unassigned column at its maximum (0) and so stays optimal
// (the argument of Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES
// 52(4), 2016, which scipy's rectangular_lsap.cpp also follows).
//
// Example: cost = {4, 1, 3, 2, 0, 5, 3, 2, 2} (3x3) -> pairs (0,1), (1,0), (2,2), total 5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace walkout::track {

struct AssignmentResult {
  std::vector<std::int64_t> rows;  // ascending
  std::vector<std::int64_t> cols;  // cols[k] is matched to rows[k]
};

// Thrown when no complete matching of min(rows, cols) pairs avoids every +inf cost (only
// possible without a cost limit). Derives from invalid_argument so Python sees ValueError.
struct InfeasibleAssignment : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Minimum-cost assignment. Without a cost limit every row (if rows <= cols) or every column
// is matched and +inf pairs are forbidden. With `cost_limit` (finite), a pair is allowed only
// if its cost is <= cost_limit, and the solver minimises
//   sum of matched costs + cost_limit * (number of the min(rows, cols) slots left unmatched),
// i.e. leaving a row and a column unmatched is worth exactly cost_limit (the convention of
// lap.lapjv's cost_limit). `cost` is read only; `rows`/`cols` may be 0.
AssignmentResult linear_assignment(const double* cost, std::size_t rows, std::size_t cols,
                                   bool has_cost_limit = false, double cost_limit = 0.0);

// The same, writing the pairs into caller buffers of min(rows, cols) entries each and
// returning how many were written (min(rows, cols) without a cost limit). Thread-safe: the
// solver's scratch space is per thread.
std::size_t linear_assignment(const double* cost, std::size_t rows, std::size_t cols,
                              bool has_cost_limit, double cost_limit, std::int64_t* rows_out,
                              std::int64_t* cols_out);

}  // namespace walkout::track
