#include "runtime/sinks/otlp/http_client.h"

#include <curl/curl.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace probe::otlp {
namespace {

constexpr size_t kMaxResponseBody = 64 * 1024;  // enough for a partial-success message

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t len = size * n;
  if (body->size() < kMaxResponseBody) body->append(data, std::min(len, kMaxResponseBody - body->size()));
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<HttpResult*>(user);
  size_t len = size * n;
  std::string line(data, len);
  constexpr const char kName[] = "retry-after:";
  if (line.size() > sizeof kName - 1 && strncasecmp(line.c_str(), kName, sizeof kName - 1) == 0)
    r->retry_after = parse_retry_after(line.substr(sizeof kName - 1), time(nullptr));
  return len;
}

}  // namespace

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpClient::HttpClient(const std::vector<std::string>& headers) : headers_(headers) {
  init_curl_once();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(curl_);
}

HttpResult HttpClient::post(const std::string& url, const char* content_type, const std::string& body,
                            std::chrono::milliseconds timeout) {
  HttpResult r;
  if (!curl_) {
    r.transport_error = "libcurl could not be initialised";
    return r;
  }
  curl_slist* list = nullptr;
  list = curl_slist_append(list, (std::string("Content-Type: ") + content_type).c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  for (const auto& h : headers_) list = curl_slist_append(list, h.c_str());
  curl_easy_reset(curl_);
  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl_, CURLOPT_USERAGENT, "probekit");
  long ms = std::max<long>(1, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, std::min(ms, 5000L));
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
  CURLcode rc = curl_easy_perform(curl_);
  if (rc != CURLE_OK) {
    r.transport_error = curl_easy_strerror(rc);
    r.status = 0;
  } else {
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
  }
  curl_slist_free_all(list);
  return r;
}

}  // namespace probe::otlp
