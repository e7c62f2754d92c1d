// One thread running a Boost.Asio io_context for the runtime. Private.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace ember::xcs::detail {

class IoService {
public:
  IoService();
  ~IoService();
  IoService(const IoService&) = delete;
  IoService& operator=(const IoService&) = delete;

  boost::asio::io_context& context() noexcept;

  /// Stops the thread; pending handlers are destroyed without running.
  void stop();

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace ember::xcs::detail
