// FrameSync: pairs the frames of unsynchronised cameras that were taken at the same moment.
//
// Inputs:  per camera, (capture time t_ns, opaque frame token, arrival time) via push().
// Outputs: framesets via poll()/pull(): a reference time and, per camera, the buffered frame
//          nearest to it within the tolerance, or "missing".
// Example: 4 cameras at 30 fps with random phase, period 33.3 ms, tolerance 16.7 ms: every
//          reference time gets one frame from each camera whose clock ticked within ±16.7 ms.
//
// Policy (docs/rooms/sync.md tells the same story with pictures):
//  * Reference times follow a grid: the first is the earliest frame buffered, each next one is
//    one period later. When every camera is missing at a reference time (an outage shared by
//    all), no frameset is emitted and the grid jumps to the next frame anyone has. With a
//    grid origin, reference times are always origin + k * period (the first and the jumps
//    go to the first grid point not before that frame minus the tolerance).
//  * A frameset is released when every live camera has a frame at or past the reference time
//    (later frames can only be farther from it, so the choice is final), or when the latency
//    budget has expired: the budget starts when the first camera delivered a frame at or past
//    the reference time, so one stalled camera costs the others at most one budget of waiting.
//    A camera marked not live (stalled, reconnecting) is never waited for. With a minimum
//    frame interval, a camera is also decided once its newest frame is so late that the next
//    one cannot fall within the tolerance of the reference time (saves up to a period of
//    latency).
//  * Frames that can no longer be used (older than the next reference time minus the
//    tolerance, or older than the last released reference time) are dropped as late.
//  * Each camera's buffer is bounded: a slow consumer makes it drop its oldest frame.
//  * Ties (two frames equally near) go to the earlier frame.
//
// Frames are opaque tokens here: the binding maps them to the Python frames it holds, so no
// pixel is ever copied and this file needs no Python. Times are integer nanoseconds; capture
// times are on the cameras' UTC clock, arrival/now times on a monotonic clock (steady_now_ns).
// Thread-safe: any number of producers, one or more consumers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace walkout::sync {

using FrameToken = std::uint64_t;

// Every field is explicit here; the Python face derives the defaults (tolerance = half a
// period, budget = two periods).
struct FrameSyncOptions {
  // Number of cameras; cameras are indices [0, num_cameras).
  int num_cameras = 0;
  // Spacing of reference times (the frameset rate). Equal to the camera period for one
  // frameset per camera frame; larger decimates (10 fps framesets from 30 fps cameras).
  std::int64_t period_ns = 0;
  // How far a frame may lie from the reference time. Lowering it pairs frames more tightly
  // in time (less motion between views) but reports more cameras missing under jitter;
  // raising it past half a period lets a frame be nearer to the neighbouring reference time.
  // Must lie in (0, period_ns].
  std::int64_t tolerance_ns = 0;
  // Frames each camera may buffer. Raising it absorbs longer consumer hiccups and larger
  // arrival skew between cameras, at the cost of memory (frames are held) and of older
  // framesets after a hiccup; lowering it sheds load sooner.
  std::size_t capacity = 0;
  // How long a frameset waits, after its first camera delivered, for the others. Raising it
  // rescues frames of cameras that arrive late (network delay); lowering it bounds the
  // latency that one stalled camera adds to everyone.
  std::int64_t latency_budget_ns = 0;
  // Pins reference times to grid_origin_ns + k * period_ns (say 0: multiples of the period
  // since the epoch), so that every edge box pairs frames at the same instants and the
  // server fuses boxes without interpolating. Off: the first frame sets the grid's phase,
  // which suits a lone box (the grid then follows its cameras rather than the clock).
  // A promise that one camera's consecutive frames are at least this far apart in capture
  // time (0: no promise). It lets a camera's choice be final without waiting for its next
  // frame when that frame would land beyond the tolerance, which cuts the added latency from
  // up to a period to nearly nothing for cameras at the frameset rate. It only helps above
  // the tolerance: a frame before the reference time is final once it lies within
  // (min_frame_interval - tolerance) of it. Raising it cuts more latency; set above the real
  // spacing (jitter, faster cameras) it may pick a frame that is not the nearest (still
  // within the tolerance). The camera period minus its jitter (say 0.9 periods) fits.
  std::int64_t min_frame_interval_ns = 0;
  bool has_grid_origin = false;
  std::int64_t grid_origin_ns = 0;

  // Throws std::invalid_argument naming the field unless every field is valid.
  void check() const;
};

// Per-camera counters. Invariant: received = used + dropped_late + dropped_overflow + buffered.
struct CameraSyncCounters {
  std::uint64_t received = 0;          // frames pushed
  std::uint64_t used = 0;              // frames handed out in a frameset
  std::uint64_t dropped_late = 0;      // frames too old for any future frameset
  std::uint64_t dropped_overflow = 0;  // oldest frames shed because the buffer was full
  std::uint64_t missing = 0;           // framesets released without this camera
  std::uint64_t buffered = 0;          // frames held now
  bool live = true;                    // waited for (set_live)
};

struct FrameSet {
  std::int64_t ref_ns = 0;                  // reference capture time (UTC ns)
  std::vector<std::uint8_t> present;        // per camera: 1 when it has a frame
  std::vector<std::int64_t> t_ns;           // per camera: capture time, where present
  std::vector<FrameToken> tokens;           // per camera: the frame, where present
  bool complete = false;                    // every camera present
  bool waited_out = false;                  // released by the budget or close(), not because
                                            // every camera had moved past ref_ns
};

class FrameSync {
 public:
  explicit FrameSync(const FrameSyncOptions& options);

  // Buffers one frame. Tokens of the frames this call dropped (the pushed one when it is too
  // late, or the oldest one when the buffer overflowed) are appended to `dropped`.
  void push(int camera, std::int64_t t_ns, FrameToken token, std::int64_t arrival_ns,
            std::vector<FrameToken>& dropped);

  // Releases one frameset if the policy allows at monotonic time `now_ns`; never blocks.
  std::optional<FrameSet> poll(std::int64_t now_ns, std::vector<FrameToken>& dropped);

  // Waits up to timeout_ns (negative: no limit) for a frameset, on the steady clock. Returns
  // nothing on timeout, or once closed and drained.
  std::optional<FrameSet> pull(std::int64_t timeout_ns, std::vector<FrameToken>& dropped);

  // Whether a frame captured at t_ns could still be used: lets a camera skip decoding frames
  // the sync would drop (too late, or between reference times when the tolerance is small).
  bool wants(int camera, std::int64_t t_ns) const;

  // A camera that is not live is not waited for (its frames are still used when they come).
  void set_live(int camera, bool live);

  // After close(), framesets are released without waiting until the buffers are drained;
  // pushes are still accepted (capture threads may be finishing).
  void close();
  bool closed() const;

  std::vector<CameraSyncCounters> counters() const;
  std::uint64_t framesets() const;          // framesets released
  std::uint64_t partial_framesets() const;  // of which with at least one camera missing
  const FrameSyncOptions& options() const { return options_; }

  // The monotonic clock that pull() and the binding's default arrival times use.
  static std::int64_t steady_now_ns();

 private:
  struct Buffered {
    std::int64_t t_ns;
    std::int64_t arrival_ns;
    FrameToken token;
  };
  struct Camera {
    std::deque<Buffered> frames;  // sorted by t_ns
    CameraSyncCounters counters;
  };

  void check_camera(int camera) const;
  // Whether `cam`'s frame for `ref` is final (mutex_ held); lowers *opened_ns to the arrival
  // of its first frame at or past ref, where the latency budget starts.
  bool decided(const Camera& cam, std::int64_t ref, std::int64_t* opened_ns) const;
  // The reference time to resume at when `earliest` is the next frame anyone has.
  std::int64_t resume_ref(std::int64_t earliest) const;
  // The policy itself; mutex_ held. Sets *wake_at_ns to the time the budget of the pending
  // reference expires (or INT64_MAX when only a push can make progress).
  std::optional<FrameSet> release_locked(std::int64_t now_ns, std::vector<FrameToken>& dropped,
                                         std::int64_t* wake_at_ns);
  void drop_older_than(Camera& cam, std::int64_t t_ns, std::vector<FrameToken>& dropped);
  // Whether release_locked(now_ns) would make progress (release or skip), or would want to
  // wake earlier than the waiting consumer planned to; mutex_ held, changes nothing. Lets
  // push() wake the consumer once per frameset instead of once per frame.
  bool worth_waking_locked(std::int64_t now_ns) const;

  const FrameSyncOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Camera> cameras_;
  bool has_last_ = false;
  std::int64_t last_ref_ns_ = 0;  // last reference time decided (released or skipped)
  bool closed_ = false;
  int waiting_ = 0;                        // consumers blocked in pull()
  std::int64_t sleeping_until_ = 0;        // when the earliest of them wakes by itself
  std::uint64_t framesets_ = 0;
  std::uint64_t partial_framesets_ = 0;
};

}  // namespace walkout::sync
