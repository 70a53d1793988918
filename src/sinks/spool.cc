#include "sinks/spool.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "telemetry/logging.h"

namespace coinrelay::sinks {

namespace {

constexpr uint32_t kMagic = 0x50535243;  // "CRSP" little-endian
constexpr size_t kHeader = 24;
constexpr uint32_t kMaxRecord = 64u << 20;

void put32(char* at, uint32_t v) {
  std::memcpy(at, &v, 4);
}
void put64(char* at, uint64_t v) {
  std::memcpy(at, &v, 8);
}
uint32_t get32(const char* at) {
  uint32_t v;
  std::memcpy(&v, at, 4);
  return v;
}
uint64_t get64(const char* at) {
  uint64_t v;
  std::memcpy(&v, at, 8);
  return v;
}

std::string errnoText() {
  return std::strerror(errno);
}

bool preadAll(int fd, char* out, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      return false;
    }
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string segmentName(uint64_t first_seq) {
  return fmt::format("seg-{:020}.log", first_seq);
}

}  // namespace

uint32_t crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : data)
    crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

Result<std::unique_ptr<Spool>> Spool::open(const std::string& dir, uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("cannot create the spool directory {}: {}; set fetch.spool_dir to "
                                 "a writable directory",
                                 dir, ec.message()));
  }
  const std::string lock_path = dir + "/LOCK";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("cannot open {}: {}; set fetch.spool_dir to a writable directory",
                                 lock_path, errnoText()));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("the spool {} is in use by another coinrelay process; give each "
                                 "process its own fetch.spool_dir",
                                 dir));
  }
  std::unique_ptr<Spool> spool(new Spool(dir, max_bytes, lock_fd));
  CR_RETURN_IF_ERROR(spool->load());
  return spool;
}

Spool::Spool(std::string dir, uint64_t max_bytes, int lock_fd)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      segment_bytes_(std::clamp<uint64_t>(max_bytes / 16, 64 << 10, 8 << 20)),
      lock_fd_(lock_fd) {}

Spool::~Spool() {
  for (auto& segment : segments_) {
    if (segment->fd >= 0)
      ::close(segment->fd);
  }
  ::close(lock_fd_);  // releases the flock
}

Status Spool::load() {
  auto log = telemetry::logger("spool");
  if (std::ifstream in(dir_ + "/acked"); in) {
    // Strictly a number below 2^64-1: a damaged file (a stream would saturate an overflow to
    // the maximum, after which no acknowledgement counts) means everything is delivered again.
    std::string text;
    std::getline(in, text);
    uint64_t acked = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), acked);
    if (error == std::errc() && end == text.data() + text.size() &&
        acked != std::numeric_limits<uint64_t>::max()) {
      acked_ = acked;
    } else if (!text.empty()) {
      log->warn(
          "spool {}: the acked file is damaged (not a sequence number); every record "
          "still in the spool is delivered again",
          dir_);
    }
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("seg-") && name.ends_with(".log"))
      files.emplace_back(std::stoull(name.substr(4, name.size() - 8)), entry.path().string());
  }
  std::sort(files.begin(), files.end());
  next_seq_ = acked_ + 1;
  for (size_t f = 0; f < files.size(); ++f) {
    auto segment = std::make_unique<Segment>();
    segment->first_seq = files[f].first;
    segment->path = files[f].second;
    segment->fd = ::open(segment->path.c_str(), O_RDWR | O_CLOEXEC);
    if (segment->fd < 0) {
      return makeError(ErrorCode::Internal,
                       fmt::format("cannot open spool segment {}: {}", segment->path, errnoText()));
    }
    const uint64_t file_size = static_cast<uint64_t>(::lseek(segment->fd, 0, SEEK_END));
    uint64_t offset = 0;
    char header[kHeader];
    std::string payload;
    uint64_t expected_seq = segment->first_seq;  // a segment's records are numbered from its name
    while (offset + kHeader <= file_size) {
      if (!preadAll(segment->fd, header, kHeader, offset) || get32(header) != kMagic)
        break;
      const uint32_t length = get32(header + 4);
      if (length > kMaxRecord || offset + kHeader + length > file_size)
        break;
      payload.resize(length);
      if (!preadAll(segment->fd, payload.data(), length, offset + kHeader) ||
          crc32(payload) != get32(header + 16))
        break;
      const uint64_t seq = get64(header + 8);
      // The checksum covers the payload only: a record numbered out of its place (or at the
      // end of the numbers) is damage as well, and what follows it is not trusted.
      if (seq != expected_seq || seq == std::numeric_limits<uint64_t>::max())
        break;
      ++expected_seq;
      segment->last_seq = seq;
      next_seq_ = std::max(next_seq_, seq + 1);
      if (seq > acked_) {
        pending_.push_back(Entry{seq, segment.get(), offset + kHeader, length});
        pending_bytes_ += kHeader + length;
      }
      offset += kHeader + length;
    }
    if (offset < file_size) {
      // A crash while appending leaves a torn tail; anything else is damage. Either way the
      // records after it cannot be trusted, and the file is cut there.
      log->warn("spool segment {}: {} bytes after offset {} are torn or damaged; cut off",
                segment->path, file_size - offset, offset);
      if (::ftruncate(segment->fd, static_cast<off_t>(offset)) != 0) {
        return makeError(ErrorCode::Internal, fmt::format("cannot repair spool segment {}: {}",
                                                          segment->path, errnoText()));
      }
    }
    segment->size = offset;
    segments_.push_back(std::move(segment));
  }
  removeDeadSegments();
  if (!pending_.empty()) {
    log->info("spool {}: {} records ({} bytes) from an earlier run still to deliver", dir_,
              pending_.size(), pending_bytes_);
  }
  // Appends always go to a fresh segment: earlier ones are only read and deleted.
  std::lock_guard lock(mutex_);
  return startSegment();
}

Status Spool::startSegment() {
  auto segment = std::make_unique<Segment>();
  segment->first_seq = next_seq_;
  segment->path = dir_ + "/" + segmentName(next_seq_);
  segment->fd = ::open(segment->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (segment->fd < 0) {
    return makeError(ErrorCode::Internal,
                     fmt::format("cannot create spool segment {}: {}", segment->path, errnoText()));
  }
  segments_.push_back(std::move(segment));
  return {};
}

Status Spool::persistAcked() {
  const std::string tmp = dir_ + "/acked.tmp";
  const std::string text = std::to_string(acked_) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && writeAll(fd, text.data(), text.size()) && ::fdatasync(fd) == 0;
  if (fd >= 0)
    ::close(fd);
  ok = ok && std::rename(tmp.c_str(), (dir_ + "/acked").c_str()) == 0;
  if (!ok) {
    return makeError(
        ErrorCode::Internal,
        fmt::format("cannot record delivered records in {}/acked: {}", dir_, errnoText()));
  }
  return {};
}

void Spool::removeDeadSegments() {
  // Every segment but the one appended to goes once all its records are acknowledged.
  while (segments_.size() > 1 && segments_.front()->last_seq <= acked_) {
    ::close(segments_.front()->fd);
    std::filesystem::remove(segments_.front()->path);
    segments_.pop_front();
  }
}

void Spool::dropOldest(uint64_t needed) {
  uint64_t dropped = 0;
  uint64_t last = 0;
  while (!pending_.empty() && pending_bytes_ + needed > max_bytes_) {
    pending_bytes_ -= kHeader + pending_.front().length;
    last = pending_.front().seq;
    pending_.pop_front();
    ++dropped;
  }
  if (dropped == 0)
    return;
  dropped_ += dropped;
  acked_ = std::max(acked_, last);
  (void)persistAcked();
  removeDeadSegments();
  telemetry::logger("spool")->warn(
      "spool {} is full ({} MiB): dropped the {} oldest records ({} dropped so far); raise "
      "fetch.spool_max_mib to keep more through an outage",
      dir_, max_bytes_ >> 20, dropped, dropped_);
}

Status Spool::append(const std::vector<std::string>& payloads) {
  if (payloads.empty())
    return {};
  std::lock_guard lock(mutex_);
  uint64_t incoming = 0;
  for (const auto& payload : payloads)
    incoming += kHeader + payload.size();
  // A batch larger than the whole spool keeps only its newest records.
  size_t first = 0;
  while (first < payloads.size() && incoming > max_bytes_) {
    incoming -= kHeader + payloads[first].size();
    ++first;
    ++dropped_;
  }
  dropOldest(incoming);
  std::string buffer;
  std::vector<Segment*> touched;
  auto flush = [&]() -> Status {
    Segment* active = segments_.back().get();
    if (!buffer.empty() && !writeAll(active->fd, buffer.data(), buffer.size())) {
      return makeError(ErrorCode::Unavailable,
                       fmt::format("cannot write to the spool {}: {}", active->path, errnoText()));
    }
    buffer.clear();
    return {};
  };
  for (size_t i = first; i < payloads.size(); ++i) {
    Segment* active = segments_.back().get();
    if (active->size >= segment_bytes_) {
      CR_RETURN_IF_ERROR(flush());
      if (std::find(touched.begin(), touched.end(), active) == touched.end())
        touched.push_back(active);
      CR_RETURN_IF_ERROR(startSegment());
      active = segments_.back().get();
    }
    const std::string& payload = payloads[i];
    char header[kHeader] = {};
    put32(header, kMagic);
    put32(header + 4, static_cast<uint32_t>(payload.size()));
    put64(header + 8, next_seq_);
    put32(header + 16, crc32(payload));
    buffer.append(header, kHeader);
    buffer.append(payload);
    pending_.push_back(
        Entry{next_seq_, active, active->size + kHeader, static_cast<uint32_t>(payload.size())});
    active->size += kHeader + payload.size();
    active->last_seq = next_seq_;
    pending_bytes_ += kHeader + payload.size();
    ++next_seq_;
  }
  CR_RETURN_IF_ERROR(flush());
  touched.push_back(segments_.back().get());
  for (Segment* segment : touched) {
    if (::fdatasync(segment->fd) != 0) {
      return makeError(ErrorCode::Unavailable,
                       fmt::format("cannot sync the spool {}: {}", segment->path, errnoText()));
    }
  }
  return {};
}

Result<std::vector<SpoolRecord>> Spool::peek(size_t max_records, size_t max_bytes) const {
  std::lock_guard lock(mutex_);
  std::vector<SpoolRecord> out;
  size_t bytes = 0;
  for (const Entry& entry : pending_) {
    if (out.size() >= max_records || (!out.empty() && bytes + entry.length > max_bytes))
      break;
    SpoolRecord record;
    record.seq = entry.seq;
    record.payload.resize(entry.length);
    if (!preadAll(entry.segment->fd, record.payload.data(), entry.length, entry.offset)) {
      return makeError(ErrorCode::Internal, fmt::format("cannot read the spool {}: {}",
                                                        entry.segment->path, errnoText()));
    }
    bytes += entry.length;
    out.push_back(std::move(record));
  }
  return out;
}

Status Spool::ack(uint64_t seq) {
  std::lock_guard lock(mutex_);
  if (seq <= acked_)
    return {};  // already acknowledged, or dropped while in flight
  while (!pending_.empty() && pending_.front().seq <= seq) {
    pending_bytes_ -= kHeader + pending_.front().length;
    pending_.pop_front();
  }
  acked_ = seq;
  CR_RETURN_IF_ERROR(persistAcked());
  removeDeadSegments();
  // Fully delivered: start over with an empty file, so an idle spool takes no disk.
  Segment* active = segments_.back().get();
  if (pending_.empty() && active->size > 0) {
    CR_RETURN_IF_ERROR(startSegment());
    removeDeadSegments();
  }
  return {};
}

SpoolStats Spool::stats() const {
  std::lock_guard lock(mutex_);
  return SpoolStats{pending_.size(), pending_bytes_, dropped_, acked_};
}

}  // namespace coinrelay::sinks
