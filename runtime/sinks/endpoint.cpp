#include "runtime/sinks/endpoint.h"

namespace probe {

bool split_endpoint(const std::string& endpoint, std::string* host, std::string* port) {
  if (!endpoint.empty() && endpoint[0] == '[') {
    auto close = endpoint.find(']');
    if (close == std::string::npos || close + 1 >= endpoint.size() || endpoint[close + 1] != ':')
      return false;
    *host = endpoint.substr(1, close - 1);
    *port = endpoint.substr(close + 2);
  } else {
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = endpoint.substr(0, colon);
    *port = endpoint.substr(colon + 1);
    if (host->find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  return !host->empty() && !port->empty() && port->size() <= 5 &&
         port->find_first_not_of("0123456789") == std::string::npos && std::stoi(*port) <= 65535;
}

}  // namespace probe
