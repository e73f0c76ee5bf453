// Estuary's native load generator for `npm run bench` (src/bench/native-load.ts).
//
// What it does, and nothing more:
//   runLoad(spec) -> { ok, errors, errorsInWindow, completed, resumed, handshakes, firstError?, latencies }
// spec = { host: IPv4 literal, port, request: Buffer[] (complete HTTP/1.1 requests, used round
// robin from `offset`), offset, keepAlive, concurrency, measureStart, measureEnd (wall-clock ms,
// CLOCK_REALTIME, the clock of performance.timeOrigin + performance.now()), caPem?,
// legacyEcDecode? (default true, see "Legacy EC key decoding" below) }.
//
// Why it exists: with a new TLS connection per request, Node's https client spends about 1 ms of
// CPU per connection, so one driver core saturated near 1,000 handshakes/s while the server's
// core was half idle. wrk resumes TLS sessions (SSL_clear keeps the session), so half of its
// handshakes are abbreviated. This driver makes FULL handshakes only, at ~0.4 ms of CPU each
// against Estuary's TLS 1.3 + P-256 chain (ECDSA verify, X25519 and the kernel are most of it).
//
// How: runLoad blocks the calling thread (it runs in a dedicated bench driver process) and runs
// `concurrency` closed-loop clients on one thread: non-blocking sockets with TCP_NODELAY, one
// edge-triggered epoll set, one SSL_CTX. New-connection mode gives every request a new socket and
// a new SSL (never SSL_clear, never SSL_set_session; the context has no session cache and asks
// for no tickets); SSL_session_reused() is counted anyway and returned as `resumed`. Keep-alive
// mode keeps one connection per client and reconnects (a full handshake) when the server closes
// it. Responses are parsed enough to find their end: Content-Length, chunked, or until close.
// After a `Connection: close` answer the socket lingers until the server's FIN and then closes
// without a RST (see Ending); the client starts its next request at once.
// TLS 1.2 and 1.3, groups, cipher suites and signature algorithms are OpenSSL's defaults, so the
// ClientHello is the one a default OpenSSL client (curl, Node) sends.
//
// Counting mirrors runLoad in src/bench/driver.ts: `completed`, `errors` and `firstError` cover
// the whole run (warm-up included); `ok`, `errorsInWindow` and `latencies` only requests that
// completed inside [measureStart, measureEnd). A request is OK when the status is 200 and the
// body is not empty; latency runs from starting the request (the connect, for a new connection)
// to the last byte of the response. At measureEnd no new request starts; requests in flight are
// given kDrainMs to finish (counted outside the window) and then abandoned uncounted.
//
// Linking: nothing, as native/estuary-crypto.cc. OpenSSL's symbols come from the node binary
// that loads the addon and its headers from Node's include directory. The deprecated ENGINE and
// EVP_PKEY_METHOD calls (legacy EC key decoding) are used on purpose; see that section.
#define OPENSSL_SUPPRESS_DEPRECATED
#define NAPI_VERSION 8

#include <node_api.h>
#include <openssl/bio.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr double kDrainMs = 5000;            // grace for requests in flight at measureEnd
constexpr double kLingerMs = 1000;           // wait for the server's FIN after a `Connection: close` answer
constexpr uint64_t kLingerTag = 1ull << 63;  // epoll data of a lingering socket: tag | linger id
constexpr size_t kMaxHead = 64 * 1024;       // response status line + headers
constexpr size_t kKeptErrorBody = 4096;      // bytes of a non-200 body kept for the error text
constexpr size_t kErrorBodyShown = 500;      // ... of which the error text shows this many
constexpr uint32_t kMaxConcurrency = 10000;

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

const char* ErrnoName(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case EAGAIN: return "EAGAIN";
    default: return nullptr;
  }
}

// "transport error: ECONNREFUSED connect: Connection refused", as driver.ts words Node's errors.
std::string TransportError(const char* what, int e) {
  const char* name = ErrnoName(e);
  return std::string("transport error: ") + (name != nullptr ? name : "errno " + std::to_string(e)) + " " + what + ": " + std::strerror(e);
}

bool IEquals(const char* a, size_t n, const char* lowerB) {
  const size_t m = std::strlen(lowerB);
  if (n != m) return false;
  for (size_t i = 0; i < n; i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lowerB[i]) return false;
  }
  return true;
}

// Whether a comma-separated header value holds `lowerToken` (case-insensitive).
bool HasToken(const char* v, size_t n, const char* lowerToken) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t j = i;
    while (j < n && v[j] != ',') j++;
    size_t end = j;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (end > i && IEquals(v + i, end - i, lowerToken)) return true;
    i = j;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 response framing: enough to find the end of a response and keep an error body.

class Response {
 public:
  enum class Result { More, Done, Error };

  void Reset() {
    phase_ = Phase::Head;
    head_.clear();
    line_.clear();
    received_ = 0;
    remaining_ = 0;
    status = 0;
    close = false;
    bodyBytes = 0;
    errorBody.clear();
    error.clear();
  }

  // Consumes n bytes. Bytes past the end of a complete response are ignored (we never pipeline).
  Result Feed(const char* p, size_t n) {
    received_ += n;
    for (;;) {
      switch (phase_) {
        case Phase::Head: {
          if (n == 0) return Result::More;
          const size_t from = head_.size() >= 3 ? head_.size() - 3 : 0;
          head_.append(p, n);
          const size_t end = head_.find("\r\n\r\n", from);
          if (end == std::string::npos) {
            if (head_.size() > kMaxHead) return Fail("response headers larger than 64 KiB");
            return Result::More;
          }
          const size_t extra = head_.size() - (end + 4);
          p += n - extra;
          n = extra;
          head_.resize(end + 4);
          if (!ParseHead()) return Result::Error;
          continue;
        }
        case Phase::Length:
          if (!TakeBody(&p, &n, Phase::Done)) return Result::More;
          continue;
        case Phase::ChunkSize: {
          if (!Line(&p, &n)) return line_.size() > 1024 ? Fail("malformed chunk size line") : Result::More;
          uint64_t size = 0;
          size_t digits = 0;
          for (char c : line_) {
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) break;
            if (++digits > 15) return Fail("chunk size too large");
            size = size * 16 + static_cast<uint64_t>(d);
          }
          if (digits == 0) return Fail("malformed chunk size line");
          line_.clear();
          remaining_ = size;
          phase_ = size == 0 ? Phase::Trailer : Phase::ChunkData;
          continue;
        }
        case Phase::ChunkData:
          if (!TakeBody(&p, &n, Phase::ChunkEnd)) return Result::More;
          continue;
        case Phase::ChunkEnd: {
          if (!Line(&p, &n)) return line_.size() > 2 ? Fail("malformed chunk") : Result::More;
          if (line_ != "\r\n" && line_ != "\n") return Fail("malformed chunk");
          line_.clear();
          phase_ = Phase::ChunkSize;
          continue;
        }
        case Phase::Trailer: {
          if (!Line(&p, &n)) return line_.size() > kMaxHead ? Fail("trailers too large") : Result::More;
          const bool last = line_ == "\r\n" || line_ == "\n";
          line_.clear();
          if (last) phase_ = Phase::Done;
          continue;
        }
        case Phase::UntilClose:
          Body(p, n);
          return Result::More;
        case Phase::Done:
          return Result::Done;
      }
    }
  }

  bool Started() const { return received_ > 0; }
  // The body runs until the server closes: EOF completes the response.
  bool UntilClose() const { return phase_ == Phase::UntilClose; }

  int status = 0;
  bool close = false;  // the connection cannot carry another request
  uint64_t bodyBytes = 0;
  std::string errorBody;
  std::string error;

 private:
  enum class Phase { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailer, UntilClose, Done };

  Result Fail(const char* why) {
    error = std::string("transport error: bad HTTP response: ") + why;
    return Result::Error;
  }

  bool Bad(const char* why) {
    Fail(why);
    return false;
  }

  // Accumulates one line (up to and including '\n') into line_; true when it is complete.
  bool Line(const char** p, size_t* n) {
    if (*n == 0) return false;
    const void* nl = std::memchr(*p, '\n', *n);
    const size_t take = nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - *p) + 1 : *n;
    line_.append(*p, take);
    *p += take;
    *n -= take;
    return nl != nullptr;
  }

  // Consumes up to remaining_ body bytes; when none remain, moves to `next`. False: needs more input.
  bool TakeBody(const char** p, size_t* n, Phase next) {
    if (remaining_ == 0) {
      phase_ = next;
      return true;
    }
    if (*n == 0) return false;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(*n, remaining_));
    Body(*p, take);
    *p += take;
    *n -= take;
    remaining_ -= take;
    return true;
  }

  void Body(const char* p, size_t n) {
    bodyBytes += n;
    if (status != 200 && errorBody.size() < kKeptErrorBody) errorBody.append(p, std::min(n, kKeptErrorBody - errorBody.size()));
  }

  bool ParseHead() {
    const char* h = head_.data();
    const size_t len = head_.size();
    const size_t eol = head_.find("\r\n");
    // "HTTP/1.x SSS reason"
    if (eol < 12 || std::memcmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ') {
      Fail("malformed status line");
      error += ": " + head_.substr(0, std::min<size_t>(eol, 60));
      return false;
    }
    const bool http10 = h[7] == '0';
    status = 0;
    for (int i = 9; i < 12; i++) {
      if (h[i] < '0' || h[i] > '9') return Bad("malformed status code");
      status = status * 10 + (h[i] - '0');
    }
    bool chunked = false, hasLength = false, keepAlive = false;
    uint64_t length = 0;
    close = false;
    for (size_t at = eol + 2; at < len;) {
      size_t next = head_.find("\r\n", at);
      if (next == std::string::npos || next == at) break;  // the empty line
      const char* line = h + at;
      const size_t lineLen = next - at;
      at = next + 2;
      const void* colon = std::memchr(line, ':', lineLen);
      if (colon == nullptr) continue;
      const size_t nameLen = static_cast<size_t>(static_cast<const char*>(colon) - line);
      const char* v = line + nameLen + 1;
      size_t vLen = lineLen - nameLen - 1;
      while (vLen > 0 && (*v == ' ' || *v == '\t')) v++, vLen--;
      while (vLen > 0 && (v[vLen - 1] == ' ' || v[vLen - 1] == '\t')) vLen--;
      if (IEquals(line, nameLen, "content-length")) {
        uint64_t n = 0;
        if (vLen == 0 || vLen > 15) return Bad("malformed Content-Length");
        for (size_t i = 0; i < vLen; i++) {
          if (v[i] < '0' || v[i] > '9') return Bad("malformed Content-Length");
          n = n * 10 + static_cast<uint64_t>(v[i] - '0');
        }
        if (hasLength && n != length) return Bad("conflicting Content-Length");
        hasLength = true;
        length = n;
      } else if (IEquals(line, nameLen, "transfer-encoding")) {
        chunked = HasToken(v, vLen, "chunked");
      } else if (IEquals(line, nameLen, "connection")) {
        if (HasToken(v, vLen, "close")) close = true;
        if (HasToken(v, vLen, "keep-alive")) keepAlive = true;
      }
    }
    if (http10 && !keepAlive) close = true;
    if (status >= 100 && status < 200) {
      if (status == 101) return Bad("unexpected 101 Switching Protocols");
      head_.clear();  // an interim answer (100 Continue): the real one follows
      phase_ = Phase::Head;
      return true;
    }
    if (status == 204 || status == 304) {
      phase_ = Phase::Done;
    } else if (chunked) {
      phase_ = Phase::ChunkSize;  // RFC 9112 §6.3: chunked overrides Content-Length
    } else if (hasLength) {
      phase_ = Phase::Length;
      remaining_ = length;
    } else {
      phase_ = Phase::UntilClose;
      close = true;
    }
    return true;
  }

  Phase phase_ = Phase::Head;
  std::string head_;
  std::string line_;
  uint64_t received_ = 0;
  uint64_t remaining_ = 0;
};

// "HTTP 500: <first 500 bytes of the body>" (cut at a UTF-8 boundary, whitespace trimmed).
std::string HttpError(const Response& r) {
  if (r.status == 200) return "HTTP 200 with an empty body";
  size_t n = std::min(r.errorBody.size(), kErrorBodyShown);
  if (n < r.errorBody.size()) {
    while (n > 0 && (static_cast<unsigned char>(r.errorBody[n]) & 0xC0) == 0x80) n--;
  }
  size_t a = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (a < n && space(r.errorBody[a])) a++;
  while (n > a && space(r.errorBody[n - 1])) n--;
  return "HTTP " + std::to_string(r.status) + ": " + r.errorBody.substr(a, n - a);
}

// ---------------------------------------------------------------------------------------
// The load

struct Spec {
  std::string host;
  sockaddr_in addr{};
  std::vector<std::string> requests;
  uint64_t offset = 0;
  bool keepAlive = false;
  uint32_t concurrency = 0;
  double measureStart = 0;
  double measureEnd = 0;
  bool verify = false;
  std::string caPem;
  bool legacyEcDecode = true;
};

struct Stats {
  double ok = 0, errors = 0, errorsInWindow = 0, completed = 0, resumed = 0, handshakes = 0;
  std::string firstError;
  std::vector<double> latencies;
};

enum class State { Idle, Connecting, Handshaking, Writing, Reading, Done };

// How a connection ends. Abort: after an error, or abandoned at the end. Polite: we end a live
// connection (close_notify, then close). AfterServer: the server said `Connection: close` and
// closes first; its close_notify and FIN may still be on the way, and closing before they arrive
// would answer them with a RST. The socket lingers (without its SSL) until the server's FIN, then
// closes quietly, like a browser or curl that reads to the end; the client moves on at once.
enum class Ending { Abort, Polite, AfterServer };

struct Client {
  uint32_t index = 0;
  uint32_t generation = 0;  // bumped per connection: epoll events of a closed fd are ignored
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::Idle;
  bool reused = false;  // the connection already carried a request
  const std::string* request = nullptr;
  double start = 0;
  Response response;
};

class Load {
 public:
  Load(const Spec& spec, SSL_CTX* ctx) : spec_(spec), ctx_(ctx), clients_(spec.concurrency) {
    for (uint32_t i = 0; i < spec.concurrency; i++) clients_[i].index = i;
    next_ = spec.offset;
    stats_.latencies.reserve(1 << 16);
  }

  // false (with *error) only when the loop itself cannot run.
  bool Run(std::string* error) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      *error = std::string("epoll_create1: ") + std::strerror(errno);
      return false;
    }
    active_ = spec_.concurrency;
    for (Client& c : clients_) Drive(c, 0);
    epoll_event events[256];
    double deadline = spec_.measureEnd;
    bool draining = false;
    for (;;) {
      double now = NowMs();
      if (!draining && now >= spec_.measureEnd) {
        draining = true;
        deadline = now + kDrainMs;
      }
      if (active_ == 0 || (draining && now >= deadline)) break;
      ExpireLingering(now);
      const int timeout = static_cast<int>(std::max(0.0, deadline - now)) + 1;
      const int n = epoll_wait(epfd_, events, sizeof events / sizeof events[0], timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        *error = std::string("epoll_wait: ") + std::strerror(errno);
        break;
      }
      for (int i = 0; i < n; i++) {
        const uint64_t tag = events[i].data.u64;
        if ((tag & kLingerTag) != 0) {
          Linger(tag & ~kLingerTag);
          continue;
        }
        Client& c = clients_[static_cast<uint32_t>(tag & 0xffffffffu)];
        if (static_cast<uint32_t>(tag >> 32) != c.generation || c.fd < 0) continue;  // an event of a closed connection
        Drive(c, events[i].events);
      }
    }
    for (Client& c : clients_) Close(c, Ending::Abort);  // requests still in flight are abandoned uncounted
    for (Lingering& l : lingering_) {
      if (l.fd >= 0) close(l.fd);
    }
    lingering_.clear();
    close(epfd_);
    epfd_ = -1;
    return error->empty();
  }

  Stats& stats() { return stats_; }

 private:
  // Advances one client as far as it goes without blocking.
  void Drive(Client& c, uint32_t events) {
    for (;;) {
      switch (c.state) {
        case State::Idle:
          if (!Start(c)) return;
          events = 0;  // the event that woke us was for the previous connection
          continue;
        case State::Connecting: {
          if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
          int err = 0;
          socklen_t len = sizeof err;
          if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
          if (err != 0) {
            Fail(c, TransportError("connect", err));
            continue;
          }
          Handshake(c);
          continue;
        }
        case State::Handshaking: {
          ERR_clear_error();
          const int r = SSL_connect(c.ssl);
          if (r == 1) {
            stats_.handshakes++;
            if (SSL_session_reused(c.ssl)) stats_.resumed++;
            c.state = State::Writing;
            continue;
          }
          if (!Retry(c, r)) continue;
          return;
        }
        case State::Writing: {
          // Without SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write writes everything or is retried
          // with the same arguments after WANT_READ/WANT_WRITE.
          ERR_clear_error();
          const int r = SSL_write(c.ssl, c.request->data(), static_cast<int>(c.request->size()));
          if (r > 0) {
            c.state = State::Reading;
            continue;
          }
          if (!Retry(c, r)) continue;
          return;
        }
        case State::Reading: {
          ERR_clear_error();
          const int r = SSL_read(c.ssl, buffer_, sizeof buffer_);
          if (r > 0) {
            switch (c.response.Feed(buffer_, static_cast<size_t>(r))) {
              case Response::Result::More:
                break;
              case Response::Result::Done:
                Complete(c);
                break;
              case Response::Result::Error:
                Fail(c, c.response.error);
                break;
            }
            continue;
          }
          if (!Retry(c, r)) continue;
          return;
        }
        case State::Done:
          return;
      }
    }
  }

  // Starts the next request, or retires the client once the window has ended.
  bool Start(Client& c) {
    const double now = NowMs();
    if (now >= spec_.measureEnd) {
      Close(c, Ending::Polite);
      c.state = State::Done;
      active_--;
      return false;
    }
    c.start = now;
    c.request = &spec_.requests[next_++ % spec_.requests.size()];
    c.response.Reset();
    if (c.ssl != nullptr) {  // keep-alive: the connection carries the next request
      c.reused = true;
      c.state = State::Writing;
      return true;
    }
    Connect(c);
    return true;
  }

  void Connect(Client& c) {
    c.reused = false;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      Fail(c, TransportError("socket", errno));
      return;
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.generation++;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = (static_cast<uint64_t>(c.generation) << 32) | c.index;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      Fail(c, TransportError("epoll_ctl", errno));
      return;
    }
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&spec_.addr), sizeof spec_.addr) == 0) {
      Handshake(c);
    } else if (errno == EINPROGRESS) {
      c.state = State::Connecting;
    } else {
      Fail(c, TransportError("connect", errno));
    }
  }

  void Handshake(Client& c) {
    c.ssl = SSL_new(ctx_);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1) {
      Fail(c, TlsError(c));
      return;
    }
    SSL_set_connect_state(c.ssl);
    c.state = State::Handshaking;
  }

  // After an SSL call returned r <= 0: true to wait for the socket, false when the client has
  // moved on (the request failed, or EOF completed it).
  bool Retry(Client& c, int r) {
    const int saved = errno;
    switch (SSL_get_error(c.ssl, r)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return true;
      case SSL_ERROR_ZERO_RETURN:  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
        Eof(c);
        return false;
      case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() != 0) {
          Fail(c, TlsError(c));
        } else if (saved == 0 || r == 0) {
          Eof(c);
        } else {
          Fail(c, TransportError(c.state == State::Writing ? "write" : "read", saved));
        }
        return false;
      default:
        Fail(c, TlsError(c));
        return false;
    }
  }

  void Eof(Client& c) {
    if (c.state == State::Reading && c.response.UntilClose()) {
      Complete(c);
    } else if (c.state == State::Reading && c.response.Started()) {
      Fail(c, "transport error: ECONNRESET the server closed the connection before the response was complete");
    } else if (c.reused) {
      Fail(c, "transport error: ECONNRESET the server closed the keep-alive connection before answering");
    } else {
      Fail(c, c.state == State::Handshaking ? "transport error: ECONNRESET the server closed the connection during the TLS handshake"
                                            : "transport error: ECONNRESET socket hang up");
    }
  }

  std::string TlsError(Client& c) {
    char text[256];
    const unsigned long e = ERR_get_error();
    std::string out = "TLS error: ";
    if (e != 0) {
      ERR_error_string_n(e, text, sizeof text);
      out += text;
    } else {
      out += "unknown";
    }
    if (c.ssl != nullptr && spec_.verify) {
      const long v = SSL_get_verify_result(c.ssl);
      if (v != X509_V_OK) out += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    }
    ERR_clear_error();
    return out;
  }

  // The response is complete: count it, then carry on (Idle) on the same or a new connection.
  void Complete(Client& c) {
    const double end = NowMs();
    const bool inWindow = end >= spec_.measureStart && end < spec_.measureEnd;
    stats_.completed++;
    if (c.response.status == 200 && c.response.bodyBytes > 0) {
      if (inWindow) {
        stats_.ok++;
        stats_.latencies.push_back(end - c.start);
      }
    } else {
      Error(HttpError(c.response), inWindow);
    }
    if (c.response.close) {
      Close(c, Ending::AfterServer);
    } else if (!spec_.keepAlive) {
      Close(c, Ending::Polite);
    }
    c.state = State::Idle;
  }

  void Fail(Client& c, const std::string& error) {
    const double end = NowMs();
    stats_.completed++;
    Error(error, end >= spec_.measureStart && end < spec_.measureEnd);
    Close(c, Ending::Abort);
    c.state = State::Idle;
  }

  void Error(const std::string& text, bool inWindow) {
    stats_.errors++;
    if (inWindow) stats_.errorsInWindow++;
    if (stats_.firstError.empty()) stats_.firstError = text;
  }

  // Frees the connection's SSL and socket (see Ending).
  void Close(Client& c, Ending how) {
    if (c.ssl != nullptr) {
      if (how == Ending::Polite && SSL_is_init_finished(c.ssl)) {
        ERR_clear_error();
        SSL_shutdown(c.ssl);  // best effort: one try, no waiting for the server's answer
      }
      SSL_free(c.ssl);  // the socket BIO does not close the fd
      c.ssl = nullptr;
      ERR_clear_error();
    }
    if (c.fd >= 0) {
      if (how == Ending::AfterServer) {
        StartLingering(c.fd);
      } else {
        close(c.fd);  // also leaves the epoll set
      }
      c.fd = -1;
    }
    c.generation++;
  }

  struct Lingering {
    int fd;
    double deadline;
  };

  void StartLingering(int fd) {
    const uint64_t id = lingerBase_ + lingering_.size();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = kLingerTag | id;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
      close(fd);
      return;
    }
    lingering_.push_back({fd, NowMs() + kLingerMs});
    Linger(id);  // the FIN may be here already
  }

  // Reads and drops what the server still sends; closes at its FIN (or on an error).
  void Linger(uint64_t id) {
    if (id < lingerBase_ || id - lingerBase_ >= lingering_.size()) return;
    Lingering& l = lingering_[id - lingerBase_];
    if (l.fd < 0) return;
    for (;;) {
      const ssize_t n = read(l.fd, buffer_, sizeof buffer_);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      close(l.fd);
      l.fd = -1;
      return;
    }
  }

  // Closes sockets whose server has not closed within kLingerMs; forgets the closed ones.
  void ExpireLingering(double now) {
    while (!lingering_.empty() && (lingering_.front().fd < 0 || lingering_.front().deadline <= now)) {
      if (lingering_.front().fd >= 0) close(lingering_.front().fd);
      lingering_.pop_front();
      lingerBase_++;
    }
  }

  const Spec& spec_;
  SSL_CTX* ctx_;
  std::vector<Client> clients_;
  uint64_t next_ = 0;
  uint32_t active_ = 0;
  int epfd_ = -1;
  Stats stats_;
  std::deque<Lingering> lingering_;
  uint64_t lingerBase_ = 0;  // linger id of lingering_.front()
  char buffer_[16384];
};

// ---------------------------------------------------------------------------------------
// Legacy EC key decoding (spec.legacyEcDecode, on unless ESTUARY_LOAD_LEGACY_EC=off)
//
// OpenSSL 3.0 decodes the public key of every certificate it parses through the provider
// decoder framework: OSSL_DECODER_CTX_new_for_pkey enumerates every key manager and decoder
// under read locks, per certificate. Profiled on the bench machine against Estuary's two-
// certificate P-256 chain that was ~40% of the client's CPU per handshake (~240 of ~630 µs);
// OpenSSL 3.1+ caches it, Node 20 ships 3.0. x509_pubkey_decode takes the old direct path
// (EC_KEY from the SPKI, microseconds) when an ENGINE claims the key type's EVP_PKEY_METHOD.
// This ENGINE claims EVP_PKEY_EC and hands out OpenSSL's own built-in EC method, so nothing is
// replaced: the same point decoding, the same ECDSA_verify for CertificateVerify (and for the
// chain when caPem is given). What the server sees is unchanged: same ClientHello, same full
// handshake. The registration is process-wide, so it lasts only for runLoad; other threads of
// this process that use EC keys meanwhile also go through the built-in method (the bench driver
// process has none; the unit test's server worker does, and works the same).
const int kEcNids[] = {EVP_PKEY_EC};

int EcPkeyMethods(ENGINE*, EVP_PKEY_METHOD** pmeth, const int** nids, int nid) {
  if (pmeth == nullptr) {
    *nids = kEcNids;
    return 1;
  }
  *pmeth = nid == EVP_PKEY_EC ? const_cast<EVP_PKEY_METHOD*>(EVP_PKEY_meth_find(EVP_PKEY_EC)) : nullptr;
  return *pmeth != nullptr ? 1 : 0;
}

// nullptr when it cannot be registered: then the provider decoders are used, only slower.
ENGINE* RegisterLegacyEc() {
  ENGINE* e = ENGINE_new();
  if (e == nullptr || ENGINE_set_id(e, "estuary-load-ec") != 1 || ENGINE_set_name(e, "Estuary load driver: built-in EC key method") != 1 ||
      ENGINE_set_pkey_meths(e, EcPkeyMethods) != 1 || ENGINE_register_pkey_meths(e) != 1) {
    ENGINE_free(e);
    ERR_clear_error();
    return nullptr;
  }
  return e;
}

void UnregisterLegacyEc(ENGINE* e) {
  if (e == nullptr) return;
  ENGINE_unregister_pkey_meths(e);
  ENGINE_free(e);  // contexts still holding it (none after runLoad) keep their own reference
  ERR_clear_error();
}

// Without caPem the chain is not judged (SSL_VERIFY_NONE), so it is not built either.
int AcceptChain(X509_STORE_CTX*, void*) { return 1; }

// One context for every connection: no session cache, no tickets, so every handshake is full.
SSL_CTX* NewContext(const Spec& spec, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new failed";
    return nullptr;
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // One read() takes whatever has arrived (up to 16 KiB), not a record header and then its body.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (!spec.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, AcceptChain, nullptr);
    return ctx;
  }
  // The chain must lead to a certificate of caPem and name the host (an IP SAN), as Node's
  // tls.connect with `ca` and rejectUnauthorized checks it.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* bio = BIO_new_mem_buf(spec.caPem.data(), static_cast<int>(spec.caPem.size()));
  int added = 0;
  for (X509* cert; bio != nullptr && (cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) != nullptr;) {
    if (X509_STORE_add_cert(store, cert) == 1) added++;
    X509_free(cert);
  }
  BIO_free(bio);
  ERR_clear_error();  // the PEM reader ends with "no start line"
  if (added == 0) {
    SSL_CTX_free(ctx);
    *error = "caPem holds no certificate";
    return nullptr;
  }
  if (X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), spec.host.c_str()) != 1) {
    SSL_CTX_free(ctx);
    ERR_clear_error();
    *error = "cannot verify the server against host " + spec.host;
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

// ---------------------------------------------------------------------------------------
// N-API

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_type_error(env, nullptr, message.c_str());
  return nullptr;
}

bool Property(napi_env env, napi_value obj, const char* name, napi_valuetype type, napi_value* out) {
  napi_valuetype actual;
  return napi_get_named_property(env, obj, name, out) == napi_ok && napi_typeof(env, *out, &actual) == napi_ok && actual == type;
}

bool Number(napi_env env, napi_value obj, const char* name, double* out) {
  napi_value v;
  return Property(env, obj, name, napi_number, &v) && napi_get_value_double(env, v, out) == napi_ok;
}

bool String(napi_env env, napi_value v, std::string* out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) return false;
  out->resize(len + 1);
  if (napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len) != napi_ok) return false;
  out->resize(len);
  return true;
}

// Reads and checks the spec; an empty string when it is usable, else what is wrong.
std::string ReadSpec(napi_env env, napi_value obj, Spec* spec) {
  napi_value v;
  if (!Property(env, obj, "host", napi_string, &v) || !String(env, v, &spec->host)) return "spec.host: expected a string";
  spec->addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, spec->host.c_str(), &spec->addr.sin_addr) != 1) return "spec.host: expected an IPv4 address";
  double port = 0, offset = 0, concurrency = 0;
  if (!Number(env, obj, "port", &port) || port < 1 || port > 65535 || port != static_cast<int>(port)) return "spec.port: expected a port number";
  spec->addr.sin_port = htons(static_cast<uint16_t>(port));
  if (!Number(env, obj, "offset", &offset) || offset < 0 || offset > 9e15) return "spec.offset: expected a non-negative number";
  spec->offset = static_cast<uint64_t>(offset);
  if (!Number(env, obj, "concurrency", &concurrency) || concurrency < 1 || concurrency > kMaxConcurrency || concurrency != static_cast<uint32_t>(concurrency)) {
    return "spec.concurrency: expected an integer from 1 to 10000";
  }
  spec->concurrency = static_cast<uint32_t>(concurrency);
  if (!Number(env, obj, "measureStart", &spec->measureStart) || !Number(env, obj, "measureEnd", &spec->measureEnd) ||
      !(spec->measureEnd >= spec->measureStart)) {
    return "spec.measureStart, spec.measureEnd: expected wall-clock milliseconds, start <= end";
  }
  if (!Property(env, obj, "keepAlive", napi_boolean, &v) || napi_get_value_bool(env, v, &spec->keepAlive) != napi_ok) return "spec.keepAlive: expected a boolean";

  bool isArray = false;
  uint32_t count = 0;
  if (napi_get_named_property(env, obj, "request", &v) != napi_ok || napi_is_array(env, v, &isArray) != napi_ok || !isArray ||
      napi_get_array_length(env, v, &count) != napi_ok || count == 0) {
    return "spec.request: expected a non-empty array of Buffers";
  }
  spec->requests.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    bool isBuffer = false;
    void* data = nullptr;
    size_t len = 0;
    if (napi_get_element(env, v, i, &item) != napi_ok || napi_is_buffer(env, item, &isBuffer) != napi_ok || !isBuffer ||
        napi_get_buffer_info(env, item, &data, &len) != napi_ok || len == 0 || len > (1u << 30)) {
      return "spec.request: expected a non-empty array of non-empty Buffers";
    }
    spec->requests.emplace_back(static_cast<const char*>(data), len);
  }

  napi_valuetype type;
  if (napi_get_named_property(env, obj, "legacyEcDecode", &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return "spec.legacyEcDecode: unreadable";
  if (type == napi_boolean) {
    if (napi_get_value_bool(env, v, &spec->legacyEcDecode) != napi_ok) return "spec.legacyEcDecode: unreadable";
  } else if (type != napi_undefined) {
    return "spec.legacyEcDecode: expected a boolean or undefined";
  }
  if (napi_get_named_property(env, obj, "caPem", &v) != napi_ok || napi_typeof(env, v, &type) != napi_ok) return "spec.caPem: unreadable";
  if (type == napi_string) {
    spec->verify = true;
    if (!String(env, v, &spec->caPem)) return "spec.caPem: unreadable";
  } else if (type != napi_undefined) {
    return "spec.caPem: expected a PEM string or undefined";
  }
  return "";
}

bool SetNumber(napi_env env, napi_value obj, const char* name, double n) {
  napi_value v;
  return napi_create_double(env, n, &v) == napi_ok && napi_set_named_property(env, obj, name, v) == napi_ok;
}

napi_value Result(napi_env env, const Stats& s) {
  napi_value out, buffer, latencies;
  void* data = nullptr;
  const size_t n = s.latencies.size();
  if (napi_create_object(env, &out) != napi_ok || !SetNumber(env, out, "ok", s.ok) || !SetNumber(env, out, "errors", s.errors) ||
      !SetNumber(env, out, "errorsInWindow", s.errorsInWindow) || !SetNumber(env, out, "completed", s.completed) ||
      !SetNumber(env, out, "resumed", s.resumed) || !SetNumber(env, out, "handshakes", s.handshakes) ||
      napi_create_arraybuffer(env, n * sizeof(double), &data, &buffer) != napi_ok) {
    return nullptr;
  }
  if (n > 0) std::memcpy(data, s.latencies.data(), n * sizeof(double));
  if (napi_create_typedarray(env, napi_float64_array, n, buffer, 0, &latencies) != napi_ok ||
      napi_set_named_property(env, out, "latencies", latencies) != napi_ok) {
    return nullptr;
  }
  if (!s.firstError.empty()) {
    napi_value text;
    if (napi_create_string_utf8(env, s.firstError.data(), s.firstError.size(), &text) != napi_ok ||
        napi_set_named_property(env, out, "firstError", text) != napi_ok) {
      return nullptr;
    }
  }
  return out;
}

napi_value RunLoad(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 1 ||
      napi_typeof(env, argv[0], &type) != napi_ok || type != napi_object) {
    return Throw(env, "runLoad(spec)");
  }
  Spec spec;
  const std::string invalid = ReadSpec(env, argv[0], &spec);
  if (!invalid.empty()) return Throw(env, "runLoad: " + invalid);

  std::string error;
  SSL_CTX* ctx = NewContext(spec, &error);
  if (ctx == nullptr) return Throw(env, "runLoad: " + error);

  // A write to a connection the server has reset must not kill the process. Node ignores
  // SIGPIPE already; make sure of it for the duration of the run.
  struct sigaction ignore{}, previous{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, &previous);

  ENGINE* legacyEc = spec.legacyEcDecode ? RegisterLegacyEc() : nullptr;
  Load load(spec, ctx);
  const bool ran = load.Run(&error);
  UnregisterLegacyEc(legacyEc);

  sigaction(SIGPIPE, &previous, nullptr);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  if (!ran) {
    napi_throw_error(env, nullptr, ("runLoad: " + error).c_str());
    return nullptr;
  }
  return Result(env, load.stats());
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor fn = {"runLoad", nullptr, RunLoad, nullptr, nullptr, nullptr, napi_enumerable, nullptr};
  napi_define_properties(env, exports, 1, &fn);
  return exports;
}
