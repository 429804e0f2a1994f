// step_forward: every item is evaluated as Session::eval would, and one failing item leaves the
// others' results intact.
#include "engine/step_forward.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "testing.h"

namespace baleen {
namespace {

TEST(StepForward, OneBadItemDoesNotSpoilTheOthers) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto model = Model::load(testing::conformance_path("models/micro/ds2-micro/ds2-micro-f32.gguf"));
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  ThreadPool pool(2);
  SessionOptions so;
  so.n_ctx = 8;
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(std::move(Session::create(**model, pool, so)).value());

  const std::vector<TokenId> a = {1, 403, 407}, bad = {1, 100000}, too_long = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> la, lb, lc, ld;
  std::vector<StepItem> items(4);
  items[0] = {sessions[0].get(), a, &la, {}};
  items[1] = {sessions[1].get(), bad, &lb, {}};
  items[2] = {sessions[2].get(), too_long, &lc, {}};
  items[3] = {sessions[3].get(), a, nullptr, {}};  // no logits wanted
  step_forward(items);
  EXPECT_TRUE(items[0].status.ok());
  ASSERT_FALSE(items[1].status.ok());
  EXPECT_EQ(items[1].status.error().code(), ErrorCode::kInvalidArgument);
  ASSERT_FALSE(items[2].status.ok());
  EXPECT_EQ(items[2].status.error().code(), ErrorCode::kOutOfRange);
  EXPECT_TRUE(items[3].status.ok());
  EXPECT_EQ(sessions[0]->n_past(), 3);
  EXPECT_EQ(sessions[1]->n_past(), 0);
  EXPECT_EQ(sessions[2]->n_past(), 0);
  EXPECT_EQ(sessions[3]->n_past(), 3);

  // Item 0's logits are those of a plain eval on a fresh session (to 1e-4: a batched forward may
  // group the arithmetic differently).
  auto ref = std::move(Session::create(**model, pool, so)).value();
  std::vector<float> lr;
  ASSERT_TRUE(ref->eval(a, &lr, false).ok());
  ASSERT_EQ(la.size(), static_cast<size_t>((*model)->config().n_vocab));
  double max_diff = 0.0;
  for (size_t i = 0; i < lr.size(); ++i) max_diff = std::max(max_diff, std::fabs(static_cast<double>(la[i]) - lr[i]));
  EXPECT_LE(max_diff, 1e-4);
}

}  // namespace
}  // namespace baleen
