#include "runtime/io_service.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <pthread.h>
#include <thread>

#include "ember/xcs/runtime/io_context.hpp"
#include "runtime/runtime_core.hpp"

namespace ember::xcs::detail {

struct IoService::State {
  boost::asio::io_context context{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{
      context.get_executor()};
  std::jthread thread{[this] {
    pthread_setname_np(pthread_self(), "ember-asio");
    context.run();
  }};
};

IoService::IoService() : state_(std::make_unique<State>()) {}

IoService::~IoService() { stop(); }

boost::asio::io_context& IoService::context() noexcept { return state_->context; }

void IoService::stop() {
  if (!state_->thread.joinable())
    return;
  state_->work.reset();
  state_->context.stop();
  state_->thread.join();
}

} // namespace ember::xcs::detail

namespace ember::xcs {

boost::asio::io_context& io_context() { return detail::runtime_core()->io().context(); }

} // namespace ember::xcs
