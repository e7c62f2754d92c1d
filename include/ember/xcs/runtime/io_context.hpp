// The runtime's Boost.Asio I/O context, for asynchronous operator bodies:
// timers and sockets whose handlers complete a Completion. Includes Asio, so
// only code that needs it pays for it.
#pragma once
#include "ember/config.hpp"

#include <boost/asio/io_context.hpp>

namespace ember::xcs {

/// Run by one runtime thread, started on first use and stopped by
/// shutdown_runtime(); handlers must not block.
boost::asio::io_context& io_context();

} // namespace ember::xcs
