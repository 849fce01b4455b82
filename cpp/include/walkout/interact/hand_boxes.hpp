// Hand boxes to arms: where a hand model gives separate hand boxes in a camera image, each box
// goes to the nearest arm of a detected person in that image.
//
// Input: boxes (K, 4) xyxy pixels; keypoints (N, 17, 3) COCO u, v, confidence of the N person
// detections of the same image. Output per box: the person row and side (0 left, 1 right),
// or -1 when no arm is within max_distance_px.
// Example: a box centred 12 px beyond a right wrist along its forearm goes to that person's
// right arm.
//
// Each arm predicts its hand's centre: the wrist plus hand_offset times the elbow→wrist
// vector (a hand's centre lies beyond the wrist, about 0.054 H past it against a 0.146 H
// forearm in Drillis & Contini's table: 0.37), or the wrist alone when the elbow is unseen.
// Pairs are taken greedily by increasing pixel distance, each box and each arm at most once;
// ties go to the lower box, then the lower person, then left before right.
#pragma once

#include <cstddef>
#include <cstdint>

namespace walkout::interact {

struct HandBoxParams {
  double min_confidence = 0.3;     // wrist (and elbow) keypoints below it are not used
  double hand_offset = 0.37;       // hand centre beyond the wrist, in forearms
  double max_distance_px = 40.0;   // farthest a box centre may be from an arm's prediction
};

// person_out (K,) int64, side_out (K,) int32; -1 where unassigned.
void assign_hand_boxes(const double* boxes, std::size_t k, const double* keypoints, std::size_t n,
                       const HandBoxParams& params, std::int64_t* person_out, std::int32_t* side_out);

}  // namespace walkout::interact
