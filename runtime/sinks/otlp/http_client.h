// One reusable libcurl handle for POSTing export requests (keeps the connection alive between
// requests). Used from the OTLP sink's worker thread only.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "runtime/sinks/otlp/retry_policy.h"

typedef void CURL;
struct curl_slist;

namespace probe::otlp {

class HttpClient {
 public:
  // `headers` are "Name: value" lines sent with every request.
  explicit HttpClient(const std::vector<std::string>& headers);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult post(const std::string& url, const char* content_type, const std::string& body,
                  std::chrono::milliseconds timeout);

 private:
  CURL* curl_ = nullptr;
  std::vector<std::string> headers_;
};

// libcurl's global set-up, once per process, before any thread uses it.
void init_curl_once();

}  // namespace probe::otlp
