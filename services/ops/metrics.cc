#include "services/ops/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace pathway::ops {

struct Registry::Series {
  std::string labels;  // rendered: `a="x",b="y"`, or empty
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::function<double()> callback;
};

struct Registry::Family {
  Type type;
  std::string help;
  std::map<std::string, std::unique_ptr<Series>, std::less<>> series;  // by labels
};

namespace {

constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

[[noreturn]] void Invalid(std::string_view name, std::string_view why) {
  throw std::invalid_argument("metric " + std::string(name) + ": " + std::string(why));
}

void AppendEscaped(std::string& out, std::string_view s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

// `name{labels[,extra]} value\n`
void AppendSample(std::string& out, std::string_view name, std::string_view labels,
                  std::string_view extra, std::string_view value) {
  out.append(name);
  if (!labels.empty() || !extra.empty()) {
    out.push_back('{');
    out.append(labels);
    if (!labels.empty() && !extra.empty()) out.push_back(',');
    out.append(extra);
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(value);
  out.push_back('\n');
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest round-trip digits in scientific form, e.g. "1.25e+06"; read the exponent.
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(sci.ptr - buf));
  size_t e = s.find('e');
  int exponent = 0;
  if (e != std::string_view::npos && e + 2 <= s.size()) {
    std::from_chars(s.data() + e + 2, s.data() + s.size(), exponent);
    if (s[e + 1] == '-') exponent = -exponent;
  }
  if (exponent < -4 || exponent >= 6) return std::string(s);
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

void Histogram::Observe(double v) noexcept {
  size_t i = std::isnan(v)
                 ? bounds_.size()
                 : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                       bounds_.begin());
  std::lock_guard lock(mu_);
  ++buckets_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.cumulative.reserve(buckets_.size());
  std::lock_guard lock(mu_);
  uint64_t running = 0;
  for (uint64_t n : buckets_) {
    running += n;
    out.cumulative.push_back(running);
  }
  out.sum = sum_;
  out.count = count_;
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

Registry::Registry() = default;
Registry::~Registry() = default;

bool Registry::IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool Registry::IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAlpha(c) || c == '_' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

Counter& Registry::AddCounter(std::string_view name, std::string_view help, Labels labels) {
  auto series = std::make_unique<Series>();
  series->counter.reset(new Counter());
  return *Insert(name, help, Type::kCounter, std::move(labels), std::move(series)).counter;
}

Gauge& Registry::AddGauge(std::string_view name, std::string_view help, Labels labels) {
  auto series = std::make_unique<Series>();
  series->gauge.reset(new Gauge());
  return *Insert(name, help, Type::kGauge, std::move(labels), std::move(series)).gauge;
}

void Registry::AddCallbackGauge(std::string_view name, std::string_view help,
                                std::function<double()> callback, Labels labels) {
  if (!callback) Invalid(name, "empty callback");
  auto series = std::make_unique<Series>();
  series->callback = std::move(callback);
  Insert(name, help, Type::kGauge, std::move(labels), std::move(series));
}

Histogram& Registry::AddHistogram(std::string_view name, std::string_view help,
                                  std::vector<double> bounds, Labels labels) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) Invalid(name, "histogram bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      Invalid(name, "histogram bounds must be strictly increasing");
    }
  }
  auto series = std::make_unique<Series>();
  series->histogram.reset(new Histogram(std::move(bounds)));
  return *Insert(name, help, Type::kHistogram, std::move(labels), std::move(series)).histogram;
}

Registry::Series& Registry::Insert(std::string_view name, std::string_view help, Type type,
                                   Labels labels, std::unique_ptr<Series> series) {
  if (!IsValidMetricName(name)) Invalid(name, "invalid metric name");
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!IsValidLabelName(label)) Invalid(name, "invalid label name " + label);
    if (label.starts_with("__")) Invalid(name, "reserved label name " + label);
    if (type == Type::kHistogram && label == "le") Invalid(name, "reserved label name le");
    if (i > 0 && labels[i - 1].first == label) Invalid(name, "repeated label name " + label);
    if (i > 0) series->labels.push_back(',');
    series->labels += label;
    series->labels += "=\"";
    AppendEscaped(series->labels, labels[i].second, /*quotes=*/true);
    series->labels.push_back('"');
  }

  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    // A new name must not collide with the series names of a histogram.
    for (std::string_view suffix : kHistogramSuffixes) {
      if (type == Type::kHistogram && families_.count(std::string(name) + std::string(suffix))) {
        Invalid(name, "collides with an existing metric");
      }
      if (EndsWith(name, suffix)) {
        auto base = families_.find(name.substr(0, name.size() - suffix.size()));
        if (base != families_.end() && base->second->type == Type::kHistogram) {
          Invalid(name, "collides with the series of histogram " + base->first);
        }
      }
    }
    auto family = std::make_unique<Family>();
    family->type = type;
    family->help = std::string(help);
    it = families_.emplace(std::string(name), std::move(family)).first;
  } else {
    if (it->second->type != type) Invalid(name, "already registered with another type");
    if (it->second->help != help) Invalid(name, "already registered with another help text");
  }
  Family& family = *it->second;
  if (family.series.count(series->labels)) Invalid(name, "label set registered twice");
  std::string key = series->labels;
  return *family.series.emplace(std::move(key), std::move(series)).first->second;
}

std::string Registry::Render() const {
  struct View {
    std::string_view name;
    const Family* family;
    std::vector<const Series*> series;
  };
  // Families and series are never removed and their fields never change after
  // registration, so pointers taken under the lock stay valid; values are atomics or
  // guarded by their own lock, and callbacks run without the registry lock.
  std::vector<View> views;
  {
    std::lock_guard lock(mu_);
    views.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      View& view = views.emplace_back(View{name, family.get(), {}});
      view.series.reserve(family->series.size());
      for (const auto& entry : family->series) view.series.push_back(entry.second.get());
    }
  }

  std::string out;
  std::string scratch;
  for (const View& view : views) {
    const Family& family = *view.family;
    if (!family.help.empty()) {
      out += "# HELP ";
      out.append(view.name);
      out.push_back(' ');
      AppendEscaped(out, family.help, /*quotes=*/false);
      out.push_back('\n');
    }
    out += "# TYPE ";
    out.append(view.name);
    out.push_back(' ');
    switch (family.type) {
      case Type::kCounter:
        out += "counter";
        break;
      case Type::kGauge:
        out += "gauge";
        break;
      case Type::kHistogram:
        out += "histogram";
        break;
    }
    out.push_back('\n');
    for (const Series* series : view.series) {
      if (series->counter) {
        AppendSample(out, view.name, series->labels, {}, std::to_string(series->counter->value()));
      } else if (series->gauge) {
        AppendSample(out, view.name, series->labels, {}, FormatValue(series->gauge->value()));
      } else if (series->callback) {
        AppendSample(out, view.name, series->labels, {}, FormatValue(series->callback()));
      } else if (series->histogram) {
        const Histogram& h = *series->histogram;
        Histogram::Snapshot snap = h.snapshot();
        std::string bucket = std::string(view.name) + "_bucket";
        for (size_t i = 0; i < snap.cumulative.size(); ++i) {
          scratch = "le=\"";
          scratch += i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
          scratch.push_back('"');
          AppendSample(out, bucket, series->labels, scratch, std::to_string(snap.cumulative[i]));
        }
        AppendSample(out, std::string(view.name) + "_sum", series->labels, {},
                     FormatValue(snap.sum));
        AppendSample(out, std::string(view.name) + "_count", series->labels, {},
                     std::to_string(snap.count));
      }
    }
  }
  return out;
}

}  // namespace pathway::ops
