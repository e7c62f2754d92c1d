#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "ember/xcs/tracer/execution_trace.hpp"

#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace ember::xcs;

namespace {

// The process-wide recorder, emptied: tests of one program may run in one process.
ExecutionTrace& fresh_trace() {
  execution_trace().clear();
  return execution_trace();
}

// Opens a span in its destructor, so during unwinding when an exception passes.
struct SpanInDestructor {
  ~SpanInDestructor() { ScopedSpan span{true, 0, "cleanup"}; }
};

std::filesystem::path temp_path(const std::string& stem) {
  std::random_device random;
  return std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(random()) + ".json");
}

} // namespace

TEST_CASE("a nested span carries its parent id", "[tracer][span]") {
  auto& trace = fresh_trace();
  std::uint64_t outer_id = 0;
  std::uint64_t inner_id = 0;
  {
    ScopedSpan outer{true, 0, "Pipeline"};
    outer_id = outer.id();
    ScopedSpan inner{true, outer.id(), "Classify", "vmap", 2};
    inner_id = inner.id();
  }
  auto spans = trace.spans();
  REQUIRE(spans.size() == 2);
  CHECK(outer_id > 0);
  CHECK(inner_id > 0);
  CHECK(outer_id != inner_id);
  CHECK(spans[0].id == outer_id);
  CHECK(spans[0].parent == 0);
  CHECK(spans[0].operator_name == "Pipeline");
  CHECK(spans[0].transform.empty());
  CHECK(spans[0].item == -1);
  CHECK(spans[0].shard == -1);
  CHECK(spans[1].id == inner_id);
  CHECK(spans[1].parent == outer_id);
  CHECK(spans[1].operator_name == "Classify");
  CHECK(spans[1].transform == "vmap");
  CHECK(spans[1].item == 2);
  CHECK(spans[1].shard == -1);
  CHECK_FALSE(spans[1].failed);
  CHECK(spans[0].start <= spans[1].start);
  CHECK(spans[1].end <= spans[0].end);
}

TEST_CASE("a disabled scoped span records nothing", "[tracer][span]") {
  auto& trace = fresh_trace();
  {
    ScopedSpan span{false, 0, "Quiet", "pmap", 1, 1};
    CHECK(span.id() == 0);
    span.mark_failed();
  }
  CHECK(trace.spans().empty());
  CHECK(trace.dropped() == 0);
}

TEST_CASE("a span destroyed during unwinding is marked failed", "[tracer][span][failure]") {
  auto& trace = fresh_trace();
  try {
    ScopedSpan span{true, 0, "Throws"};
    throw std::runtime_error("body failed");
  } catch (const std::runtime_error&) {
  }
  auto spans = trace.spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].operator_name == "Throws");
  CHECK(spans[0].failed);
}

TEST_CASE("a span opened and closed inside a destructor during unwinding is not failed",
          "[tracer][span][failure]") {
  auto& trace = fresh_trace();
  try {
    ScopedSpan span{true, 0, "Throws"};
    SpanInDestructor cleanup;
    throw std::runtime_error("body failed");
  } catch (const std::runtime_error&) {
  }
  auto spans = trace.spans();
  REQUIRE(spans.size() == 2);
  CHECK(spans[0].operator_name == "Throws");
  CHECK(spans[0].failed);
  CHECK(spans[1].operator_name == "cleanup");
  CHECK_FALSE(spans[1].failed);
}

TEST_CASE("mark_failed records a span as failed without an exception", "[tracer][span][failure]") {
  auto& trace = fresh_trace();
  {
    ScopedSpan span{true, 0, "ReturnsError"};
    span.mark_failed();
  }
  auto spans = trace.spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].failed);
}

TEST_CASE("spans from several threads get different workers and a thread keeps its worker",
          "[tracer][threads]") {
  auto& trace = fresh_trace();
  constexpr int thread_count = 4;
  // Every thread holds its first span open until all have begun one, so the
  // spans are recorded concurrently by threads alive at the same time.
  std::latch all_open{thread_count};
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t)
    threads.emplace_back([&all_open, t] {
      {
        ScopedSpan first{true, 0, "First", "pmap", -1, t};
        all_open.arrive_and_wait();
      }
      ScopedSpan second{true, 0, "Second", "pmap", -1, t};
    });
  for (auto& thread : threads)
    thread.join();

  auto spans = trace.spans();
  REQUIRE(spans.size() == std::size_t{2} * thread_count);
  std::map<std::int64_t, std::vector<std::uint64_t>> workers_by_shard;
  for (const auto& span : spans)
    workers_by_shard[span.shard].push_back(span.worker);
  REQUIRE(workers_by_shard.size() == thread_count);
  std::set<std::uint64_t> distinct;
  for (const auto& [shard, workers] : workers_by_shard) {
    REQUIRE(workers.size() == 2);
    CHECK(workers[0] == workers[1]);
    CHECK(workers[0] > 0);
    distinct.insert(workers[0]);
  }
  CHECK(distinct.size() == thread_count);
  CHECK(distinct.count(worker_number()) == 0);
}

TEST_CASE("the calling thread keeps its worker number", "[tracer][threads]") {
  auto& trace = fresh_trace();
  auto worker = worker_number();
  CHECK(worker > 0);
  CHECK(worker_number() == worker);
  { ScopedSpan span{true, 0, "Here"}; }
  auto spans = trace.spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].worker == worker);
}

TEST_CASE("a span ended on another thread keeps the worker that began it", "[tracer][threads]") {
  ExecutionTrace trace;
  auto id = trace.begin_span(0, "Async", "", -1, -1);
  std::thread other{[&] { trace.end_span(id, true); }};
  other.join();
  auto spans = trace.spans();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].id == id);
  CHECK(spans[0].worker == worker_number());
  CHECK(spans[0].failed);
}

TEST_CASE("ending an unknown or already ended span is ignored", "[tracer][span]") {
  ExecutionTrace trace;
  auto id = trace.begin_span(0, "Once", "", -1, -1);
  trace.end_span(id, false);
  trace.end_span(id, true);
  trace.end_span(id + 100, true);
  auto spans = trace.spans();
  REQUIRE(spans.size() == 1);
  CHECK_FALSE(spans[0].failed);
}

TEST_CASE("clear forgets completed spans and keeps open ones", "[tracer][clear]") {
  ExecutionTrace trace;
  trace.end_span(trace.begin_span(0, "Before", "", -1, -1), false);
  auto open = trace.begin_span(0, "Open", "", -1, -1);
  REQUIRE(trace.spans().size() == 1);
  trace.clear();
  CHECK(trace.spans().empty());
  trace.end_span(open, false);
  auto after = trace.begin_span(open, "After", "", -1, -1);
  trace.end_span(after, false);
  auto spans = trace.spans();
  REQUIRE(spans.size() == 2);
  CHECK(spans[0].operator_name == "Open");
  CHECK(spans[1].operator_name == "After");
  CHECK(after > open);
}

TEST_CASE("the span cap drops further spans and counts them", "[tracer][cap]") {
  ExecutionTrace trace{3};
  CHECK(trace.capacity() == 3);
  for (int i = 0; i < 5; ++i)
    trace.end_span(trace.begin_span(0, "Op", "vmap", i, -1), false);
  auto spans = trace.spans();
  REQUIRE(spans.size() == 3);
  CHECK(spans[0].item == 0);
  CHECK(spans[2].item == 2);
  CHECK(trace.dropped() == 2);

  trace.clear();
  CHECK(trace.dropped() == 0);
  trace.end_span(trace.begin_span(0, "Op", "", -1, -1), false);
  CHECK(trace.spans().size() == 1);
}

TEST_CASE("the default cap is one million spans", "[tracer][cap]") {
  CHECK(execution_trace().capacity() == 1'000'000);
  CHECK(ExecutionTrace::default_capacity == 1'000'000);
}

TEST_CASE("to_chrome_json parses back as complete events of the recorded spans", "[tracer][json]") {
  ExecutionTrace trace;
  auto outer = trace.begin_span(0, "Pipeline", "", -1, -1);
  auto shard = trace.begin_span(outer, "Summarise \"quoted\"", "pmap", -1, 1);
  trace.end_span(shard, true);
  trace.end_span(outer, false);

  auto document = boost::json::parse(trace.to_chrome_json()).as_object();
  CHECK(document.at("displayTimeUnit").as_string() == "ms");
  const auto& events = document.at("traceEvents").as_array();
  REQUIRE(events.size() == 2);
  auto spans = trace.spans();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i].as_object();
    const auto& span = spans[i];
    CHECK(event.at("name").as_string() == span.operator_name);
    CHECK(event.at("cat").as_string() == "ember");
    CHECK(event.at("ph").as_string() == "X");
    REQUIRE(event.at("ts").is_number());
    REQUIRE(event.at("dur").is_number());
    CHECK(event.at("ts").to_number<double>() >= 0.0);
    CHECK(event.at("dur").to_number<double>() >= 0.0);
    CHECK(event.at("pid").to_number<std::int64_t>() == 1);
    CHECK(event.at("tid").to_number<std::uint64_t>() == span.worker);
    const auto& args = event.at("args").as_object();
    CHECK(args.at("id").to_number<std::uint64_t>() == span.id);
    CHECK(args.at("parent").to_number<std::uint64_t>() == span.parent);
    CHECK(args.at("item").to_number<std::int64_t>() == span.item);
    CHECK(args.at("shard").to_number<std::int64_t>() == span.shard);
    CHECK(args.at("transform").as_string() == span.transform);
    CHECK(args.at("failed").as_bool() == span.failed);
  }
  CHECK(events[0].as_object().at("ts").to_number<double>() == 0.0);
  const auto& shard_event = events[1].as_object();
  CHECK(shard_event.at("name").as_string() == "Summarise \"quoted\"");
  const auto& shard_args = shard_event.at("args").as_object();
  CHECK(shard_args.at("parent").to_number<std::uint64_t>() == outer);
  CHECK(shard_args.at("shard").to_number<std::int64_t>() == 1);
  CHECK(shard_args.at("transform").as_string() == "pmap");
  CHECK(shard_args.at("failed").as_bool());
}

TEST_CASE("an empty trace exports an empty event list", "[tracer][json]") {
  ExecutionTrace trace;
  auto document = boost::json::parse(trace.to_chrome_json()).as_object();
  CHECK(document.at("traceEvents").as_array().empty());
  CHECK(document.at("displayTimeUnit").as_string() == "ms");
}

TEST_CASE("write_chrome_json writes the same JSON to a file", "[tracer][json][file]") {
  ExecutionTrace trace;
  trace.end_span(trace.begin_span(0, "Written", "", -1, -1), false);
  auto path = temp_path("ember-trace");
  trace.write_chrome_json(path.string());
  std::ifstream file{path};
  std::stringstream contents;
  contents << file.rdbuf();
  file.close();
  std::filesystem::remove(path);
  CHECK(contents.str() == trace.to_chrome_json());
  auto document = boost::json::parse(contents.str()).as_object();
  const auto& events = document.at("traceEvents").as_array();
  REQUIRE(events.size() == 1);
  CHECK(events[0].as_object().at("name").as_string() == "Written");
}

TEST_CASE("write_chrome_json to an unwritable path throws naming the path",
          "[tracer][json][file]") {
  ExecutionTrace trace;
  auto path = (temp_path("ember-missing-dir") / "trace.json").string();
  try {
    trace.write_chrome_json(path);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains(path));
  }
}
