// FrameSync policy; see cpp/include/walkout/sync/frame_sync.hpp for the contract.
#include "walkout/sync/frame_sync.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>

namespace walkout::sync {

namespace {
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// Capture and arrival times are kept within ±2^62 ns (±146 years around their epochs), so
// that time + period + budget never overflows.
constexpr std::int64_t kTimeLimit = std::int64_t{1} << 62;

// floor(a / b) for b > 0, also for negative a.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b < 0) --q;
  return q;
}

void check_time(std::int64_t t, const char* name) {
  if (t < -kTimeLimit || t > kTimeLimit) {
    throw std::invalid_argument(std::string(name) + ": expected integer ns within ±2**62, got " +
                                std::to_string(t));
  }
}
}  // namespace

void FrameSyncOptions::check() const {
  if (num_cameras < 1 || num_cameras > 1024) {
    throw std::invalid_argument("num_cameras: expected an integer in [1, 1024], got " +
                                std::to_string(num_cameras));
  }
  if (period_ns <= 0 || period_ns > (std::int64_t{1} << 50)) {
    throw std::invalid_argument("period_ns: expected nanoseconds in (0, 2**50], got " +
                                std::to_string(period_ns));
  }
  if (tolerance_ns <= 0 || tolerance_ns > period_ns) {
    throw std::invalid_argument("tolerance_ns: expected nanoseconds in (0, period_ns=" +
                                std::to_string(period_ns) + "], got " +
                                std::to_string(tolerance_ns));
  }
  if (capacity < 1) {
    throw std::invalid_argument("capacity: expected at least 1 frame per camera, got 0");
  }
  if (has_grid_origin && (grid_origin_ns < -kTimeLimit || grid_origin_ns > kTimeLimit)) {
    throw std::invalid_argument("grid_origin_ns: expected integer ns within ±2**62, got " +
                                std::to_string(grid_origin_ns));
  }
  if (min_frame_interval_ns < 0 || min_frame_interval_ns > (std::int64_t{1} << 50)) {
    throw std::invalid_argument("min_frame_interval_ns: expected nanoseconds in [0, 2**50], got " +
                                std::to_string(min_frame_interval_ns));
  }
  if (latency_budget_ns < 0 || latency_budget_ns > (std::int64_t{1} << 60)) {
    throw std::invalid_argument("latency_budget_ns: expected nanoseconds in [0, 2**60], got " +
                                std::to_string(latency_budget_ns));
  }
}

FrameSync::FrameSync(const FrameSyncOptions& options) : options_(options) {
  options_.check();
  cameras_.resize(static_cast<std::size_t>(options_.num_cameras));
}

std::int64_t FrameSync::steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void FrameSync::check_camera(int camera) const {
  if (camera < 0 || camera >= options_.num_cameras) {
    throw std::invalid_argument("camera: expected an index in [0, " +
                                std::to_string(options_.num_cameras) + "), got " +
                                std::to_string(camera));
  }
}

std::int64_t FrameSync::resume_ref(std::int64_t earliest) const {
  if (!options_.has_grid_origin) return earliest;
  // The first grid point whose window reaches back to `earliest`.
  const std::int64_t from = earliest - options_.tolerance_ns - options_.grid_origin_ns;
  return options_.grid_origin_ns - floor_div(-from, options_.period_ns) * options_.period_ns;
}

void FrameSync::drop_older_than(Camera& cam, std::int64_t t_ns, std::vector<FrameToken>& dropped) {
  while (!cam.frames.empty() && cam.frames.front().t_ns < t_ns) {
    dropped.push_back(cam.frames.front().token);
    cam.frames.pop_front();
    ++cam.counters.dropped_late;
  }
}

bool FrameSync::decided(const Camera& cam, std::int64_t ref, std::int64_t* opened_ns) const {
  for (const Buffered& f : cam.frames) {
    if (f.t_ns >= ref) {
      *opened_ns = std::min(*opened_ns, f.arrival_ns);
      return true;
    }
  }
  if (!cam.counters.live || closed_) return true;
  // The promised spacing puts the next frame beyond the window: the choice is already final.
  const std::int64_t gap = options_.min_frame_interval_ns;
  return gap > 0 && !cam.frames.empty() &&
         cam.frames.back().t_ns + gap > ref + options_.tolerance_ns;
}

bool FrameSync::worth_waking_locked(std::int64_t now_ns) const {
  const std::int64_t period = options_.period_ns;
  // The same steps as release_locked, reading only: frames below `usable` are about to be
  // dropped as late, so they neither anchor nor decide anything.
  const std::int64_t usable = has_last_ ? last_ref_ns_ + period - options_.tolerance_ns
                                         : std::numeric_limits<std::int64_t>::min();
  std::int64_t earliest = kNever;
  for (const Camera& cam : cameras_) {
    for (const Buffered& f : cam.frames) {
      if (f.t_ns >= usable) {
        earliest = std::min(earliest, f.t_ns);
        break;
      }
    }
  }
  if (earliest == kNever) return false;
  const std::int64_t ref = has_last_ ? last_ref_ns_ + period : resume_ref(earliest);
  bool all_decided = true;
  std::int64_t opened_ns = kNever;
  for (const Camera& cam : cameras_) {
    all_decided = decided(cam, ref, &opened_ns) && all_decided;
  }
  if (all_decided) return true;
  if (opened_ns == kNever) return false;
  const std::int64_t expires_ns = opened_ns > kNever - options_.latency_budget_ns
                                      ? kNever
                                      : opened_ns + options_.latency_budget_ns;
  return now_ns >= expires_ns || expires_ns < sleeping_until_;
}

void FrameSync::push(int camera, std::int64_t t_ns, FrameToken token, std::int64_t arrival_ns,
                     std::vector<FrameToken>& dropped) {
  check_camera(camera);
  check_time(t_ns, "t_ns");
  check_time(arrival_ns, "arrival_ns");
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Camera& cam = cameras_[static_cast<std::size_t>(camera)];
    ++cam.counters.received;
    // Every future reference time is at least last + period, so a frame further than the
    // tolerance before that can never be chosen: drop it now rather than buffer it.
    if (has_last_ && t_ns < last_ref_ns_ + options_.period_ns - options_.tolerance_ns) {
      ++cam.counters.dropped_late;
      dropped.push_back(token);
      return;
    }
    // Frames nearly always arrive in capture order, so the insertion point is searched from
    // the back; equal times keep arrival order.
    auto it = cam.frames.end();
    while (it != cam.frames.begin() && std::prev(it)->t_ns > t_ns) --it;
    cam.frames.insert(it, Buffered{t_ns, arrival_ns, token});
    if (cam.frames.size() > options_.capacity) {
      dropped.push_back(cam.frames.front().token);
      cam.frames.pop_front();
      ++cam.counters.dropped_overflow;
    }
    // Waking a consumer that would only go back to sleep costs a context switch per frame.
    wake = waiting_ > 0 && worth_waking_locked(arrival_ns);
  }
  if (wake) changed_.notify_all();
}

std::optional<FrameSet> FrameSync::release_locked(std::int64_t now_ns,
                                                  std::vector<FrameToken>& dropped,
                                                  std::int64_t* wake_at_ns) {
  const std::int64_t period = options_.period_ns;
  const std::int64_t tol = options_.tolerance_ns;
  *wake_at_ns = kNever;
  for (;;) {
    if (has_last_) {
      for (Camera& cam : cameras_) drop_older_than(cam, last_ref_ns_ + period - tol, dropped);
    }
    std::int64_t earliest = kNever;
    for (const Camera& cam : cameras_) {
      if (!cam.frames.empty()) earliest = std::min(earliest, cam.frames.front().t_ns);
    }
    if (earliest == kNever) return std::nullopt;  // nothing buffered
    const std::int64_t ref = has_last_ ? last_ref_ns_ + period : resume_ref(earliest);

    // A camera is decided once it has a frame at or past ref: its later frames can only be
    // farther away. The budget runs from the first such arrival among all cameras.
    bool all_decided = true;
    std::int64_t opened_ns = kNever;
    for (const Camera& cam : cameras_) {
      all_decided = decided(cam, ref, &opened_ns) && all_decided;
    }
    const std::int64_t expires_ns =
        opened_ns == kNever ? kNever
                            : (opened_ns > kNever - options_.latency_budget_ns
                                   ? kNever
                                   : opened_ns + options_.latency_budget_ns);
    const bool expired = expires_ns != kNever && now_ns >= expires_ns;
    if (!all_decided && !expired) {
      *wake_at_ns = expires_ns;
      return std::nullopt;
    }

    // Nearest frame within the tolerance per camera; ties go to the earlier frame (frames
    // are sorted, so the first of two equal distances is the earlier one).
    FrameSet fs;
    const std::size_t n = cameras_.size();
    fs.ref_ns = ref;
    fs.present.assign(n, 0);
    fs.t_ns.assign(n, 0);
    fs.tokens.assign(n, 0);
    std::vector<std::ptrdiff_t> chosen(n, -1);
    bool any = false;
    for (std::size_t c = 0; c < n; ++c) {
      const auto& frames = cameras_[c].frames;
      std::int64_t best = kNever;
      for (std::size_t i = 0; i < frames.size(); ++i) {
        const std::int64_t t = frames[i].t_ns;
        if (t > ref + tol) break;
        const std::int64_t d = t >= ref ? t - ref : ref - t;
        if (d <= tol && d < best) {
          best = d;
          chosen[c] = static_cast<std::ptrdiff_t>(i);
        }
      }
      any = any || chosen[c] >= 0;
    }
    if (!any) {
      // Every camera is missing at ref (an outage they share): emit nothing, and jump the
      // grid to the next frame anyone has instead of stepping through the gap.
      has_last_ = true;
      last_ref_ns_ = ref;
      if (earliest > ref + period + tol) last_ref_ns_ = resume_ref(earliest) - period;
      continue;
    }

    fs.complete = true;
    fs.waited_out = !all_decided;
    for (std::size_t c = 0; c < n; ++c) {
      Camera& cam = cameras_[c];
      if (chosen[c] >= 0) {
        auto it = cam.frames.begin() + chosen[c];
        fs.present[c] = 1;
        fs.t_ns[c] = it->t_ns;
        fs.tokens[c] = it->token;
        cam.frames.erase(it);
        ++cam.counters.used;
      } else {
        fs.complete = false;
        ++cam.counters.missing;
      }
      // Frames older than the released reference time are never used.
      drop_older_than(cam, ref, dropped);
    }
    has_last_ = true;
    last_ref_ns_ = ref;
    ++framesets_;
    if (!fs.complete) ++partial_framesets_;
    return fs;
  }
}

std::optional<FrameSet> FrameSync::poll(std::int64_t now_ns, std::vector<FrameToken>& dropped) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t wake_at = kNever;
  return release_locked(now_ns, dropped, &wake_at);
}

std::optional<FrameSet> FrameSync::pull(std::int64_t timeout_ns, std::vector<FrameToken>& dropped) {
  using clock = std::chrono::steady_clock;
  const std::int64_t start = steady_now_ns();
  const std::int64_t deadline =
      timeout_ns < 0 ? kNever : (start > kNever - timeout_ns ? kNever : start + timeout_ns);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const std::int64_t now = steady_now_ns();
    std::int64_t wake_at = kNever;
    auto fs = release_locked(now, dropped, &wake_at);
    if (fs) return fs;
    if (closed_) return std::nullopt;  // closed: release_locked flushed everything it could
    if (now >= deadline) return std::nullopt;
    const std::int64_t until = std::min(wake_at, deadline);
    // Several consumers: the earliest planned wake-up counts (the others get notified too).
    sleeping_until_ = waiting_ == 0 ? until : std::min(sleeping_until_, until);
    ++waiting_;
    if (until == kNever) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, clock::time_point(std::chrono::nanoseconds(until)));
    }
    --waiting_;
    // The remaining waiters' earliest wake-up is unknown now; "never" errs towards waking.
    sleeping_until_ = kNever;
  }
}

bool FrameSync::wants(int camera, std::int64_t t_ns) const {
  check_camera(camera);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t period = options_.period_ns;
  const std::int64_t tol = options_.tolerance_ns;
  if (has_last_ && t_ns < last_ref_ns_ + period - tol) return false;  // would be dropped as late
  if (!has_last_ && !options_.has_grid_origin) return true;  // this frame may set the grid
  // Near a reference time on the grid? (Only false when tolerance < period / 2.)
  const std::int64_t base = has_last_ ? last_ref_ns_ : options_.grid_origin_ns;
  const std::int64_t d = t_ns - base;
  const std::int64_t phase = d - floor_div(d, period) * period;
  return phase <= tol || period - phase <= tol;
}

void FrameSync::set_live(int camera, bool live) {
  check_camera(camera);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cameras_[static_cast<std::size_t>(camera)].counters.live = live;
  }
  changed_.notify_all();
}

void FrameSync::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool FrameSync::closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

std::vector<CameraSyncCounters> FrameSync::counters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CameraSyncCounters> out;
  out.reserve(cameras_.size());
  for (const Camera& cam : cameras_) {
    CameraSyncCounters c = cam.counters;
    c.buffered = cam.frames.size();
    out.push_back(c);
  }
  return out;
}

std::uint64_t FrameSync::framesets() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return framesets_;
}

std::uint64_t FrameSync::partial_framesets() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return partial_framesets_;
}

}  // namespace walkout::sync
