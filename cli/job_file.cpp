// See job_file.hpp.
#include "cli/job_file.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/edit_distance.hpp"
#include "core/error.hpp"
#include "mapping/mapping.hpp"
#include "pg/conninfo.hpp"

namespace pgblit::cli {
namespace {

const char* kHint = "see docs/job.md for the job file's keys";

// Settings a job file may not hold: they belong to one invocation, not to the migration, or
// have a section of their own.
const std::set<std::string> kNotInOptions = {"source", "target", "schema", "table", "exclude-table", "mapping",
                                             "job", "resume", "join", "dry-run", "help"};
const std::set<std::string> kGoNoGo = {"max-warning-ratio", "checks", "exact-counts", "check-timeout",
                                       "estimate-seconds"};
const std::set<std::string> kHooks = {"on-event", "on-event-timeout"};
const std::set<std::string> kSelection = {"schema", "table", "exclude-table"};

class JobReader {
 public:
  JobReader(std::string file, CLI::App& copy) : file_(std::move(file)), copy_(copy) {}

  std::string at(const YAML::Node& node) const {
    auto m = node.Mark();
    return m.is_null() ? file_ : fmt::format("{}:{}:{}", file_, m.line + 1, m.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    throw usage_error(fmt::format("{}: {}; nothing was done", at(node), what), file_, kHint);
  }
  void require_map(const YAML::Node& node, const std::string& what) const {
    if (!node.IsMap()) fail(node, what + " must be a mapping of keys to values");
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!seen.insert(kv.first.as<std::string>()).second) {
        fail(kv.first, fmt::format("'{}' appears twice in {}", kv.first.as<std::string>(), what));
      }
    }
  }

  // A password has no place in a file meant to be reviewed and committed: a key that holds
  // one, or a connection string with one, anywhere in the file. The message names the place,
  // never the value.
  void refuse_passwords(const YAML::Node& node) const {
    if (node.IsMap()) {
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (key.find("password") != std::string::npos) {
          fail(kv.first, fmt::format("'{}': a job file must not hold a password", kv.first.as<std::string>()) +
                             password_fix());
        }
        refuse_passwords(kv.second);
      }
    } else if (node.IsSequence()) {
      for (const auto& item : node) refuse_passwords(item);
    } else if (node.IsScalar() && !pg::passwords_in(node.as<std::string>()).empty()) {
      fail(node, "this value holds a password, and a job file must not" + password_fix());
    }
  }

  std::vector<std::string> values(const YAML::Node& node, const std::string& what) const {
    if (node.IsScalar()) return {node.as<std::string>()};
    if (!node.IsSequence()) fail(node, what + " must be a value or a list of values");
    std::vector<std::string> out;
    for (const auto& item : node) {
      if (!item.IsScalar()) fail(item, what + ": each entry must be a single value");
      out.push_back(item.as<std::string>());
    }
    return out;
  }

  // A connection by name: {service: NAME} (pg_service.conf), {env: VARIABLE} (read now), or a
  // connection string without a password.
  std::string connection(const YAML::Node& node, const std::string& side) const {
    if (node.IsScalar()) return node.as<std::string>();
    require_map(node, "'" + side + "'");
    if (node.size() != 1 || !(node["service"] || node["env"])) {
      fail(node, "'" + side + "' takes one of {service: NAME} or {env: VARIABLE}, or a connection string "
                              "without a password");
    }
    if (auto service = node["service"]) {
      std::string name = values(service, "'service'").at(0);
      std::string quoted;
      for (char c : name) quoted += (c == '\'' || c == '\\') ? std::string{'\\', c} : std::string{c};
      return "service='" + quoted + "'";
    }
    std::string variable = values(node["env"], "'env'").at(0);
    const char* value = std::getenv(variable.c_str());
    if (value == nullptr || *value == '\0') {
      fail(node["env"], fmt::format("the environment variable {} (the {} connection) is not set", variable, side));
    }
    return value;
  }

  // A copy flag by its long name: known, and written once in the file.
  void add(std::vector<JobSetting>& settings, const YAML::Node& key, const YAML::Node& value) {
    std::string flag = key.as<std::string>();
    if (copy_.get_option_no_throw("--" + flag) == nullptr) {
      std::string nearest;
      size_t best = 3;
      for (const auto* option : copy_.get_options()) {
        for (const auto& name : option->get_lnames()) {
          if (size_t d = edit_distance(flag, name); d < best) best = d, nearest = name;
        }
      }
      fail(key, fmt::format("'{}' is not a flag of pgblit copy{}", flag,
                            nearest.empty() ? "" : "; did you mean '" + nearest + "'?"));
    }
    if (!seen_.insert(flag).second) fail(key, fmt::format("'{}' is set twice in the job file", flag));
    settings.push_back({flag, values(value, "'" + flag + "'"), at(value)});
  }

  void section(std::vector<JobSetting>& settings, const YAML::Node& node, const std::string& name,
               const std::set<std::string>* only) {
    require_map(node, "'" + name + "'");
    for (const auto& kv : node) {
      std::string flag = kv.first.as<std::string>();
      if (only != nullptr && !only->contains(flag)) {
        fail(kv.first, fmt::format("'{}' does not belong in '{}' (it takes: {})", flag, name, fmt::join(*only, ", ")));
      }
      if (only == nullptr && kNotInOptions.contains(flag)) {
        fail(kv.first, flag == "dry-run" ? "'dry-run' is not a job setting: pgblit plan --job FILE is the job's dry run"
                                         : fmt::format("'{}' cannot be set in 'options'{}", flag,
                                                       kSelection.contains(flag) ? ": it goes in 'selection'"
                                                       : flag == "source" || flag == "target" || flag == "mapping"
                                                           ? ": it is a key of its own, at the top of the file"
                                                           : ": it belongs to one command line, not to the job"));
      }
      add(settings, kv.first, kv.second);
    }
  }

 private:
  static std::string password_fix() {
    return " (put it in ~/.pgpass, a service file's password file, or the environment: PGPASSWORD, or "
           "{env: VARIABLE} naming a variable that holds the connection string)";
  }
  std::string file_;
  CLI::App& copy_;
  std::set<std::string> seen_;
};

// The inline mapping as a file of its own whose every line and column are where they are in
// the job file: the mapping's lines kept, every other line blank, the key before its value
// blanked out (a mapping document may be indented as a whole).
std::string inline_mapping_text(const std::string& text, int first_line, int first_column, int end_line) {
  std::istringstream in(text);
  std::string line, out;
  for (int n = 0; std::getline(in, line); ++n) {
    if (n == first_line) line = std::string(static_cast<size_t>(first_column), ' ') + line.substr(first_column);
    out += (n >= first_line && (end_line < 0 || n < end_line)) ? line : "";
    out += '\n';
  }
  return out;
}

}  // namespace

JobFile::~JobFile() {
  if (inline_mapping.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(inline_mapping.parent_path(), ignored);
}

std::string JobFile::in_job_terms(std::string message) const {
  if (inline_mapping.empty()) return message;
  const std::string from = inline_mapping.string();
  for (size_t at = message.find(from); at != std::string::npos; at = message.find(from, at + path.size())) {
    message.replace(at, from.size(), path);
  }
  return message;
}

std::shared_ptr<JobFile> load_job_file(const std::string& path, const CLI::App& copy_command) {
  auto& copy = const_cast<CLI::App&>(copy_command);  // CLI11 2.1's lookups are not all const
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(fmt::format("cannot read the job file {}", path), path, "check the path given to --job");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto job = std::make_shared<JobFile>();
  job->path = std::filesystem::absolute(path).lexically_normal().string();
  job->digest = fmt::format("{:016x}", XXH3_64bits(bytes.data(), bytes.size()));
  JobReader reader(path, copy);
  YAML::Node root;
  try {
    root = YAML::Load(bytes);
  } catch (const YAML::ParserException& e) {
    throw usage_error(fmt::format("{}:{}:{}: {}; nothing was done", path, e.mark.line + 1, e.mark.column + 1, e.msg),
                      path, kHint);
  }
  reader.require_map(root, "the job file");
  reader.refuse_passwords(root);
  std::vector<int> key_lines;  // where each top-level entry starts: an inline mapping ends at the next
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    static const std::set<std::string> kTop = {"version", "source", "target", "selection", "mapping",
                                               "options", "go-no-go", "hooks", "window"};
    if (!kTop.contains(key)) {
      reader.fail(kv.first, fmt::format("unknown key '{}' in the job file (allowed: {})", key, fmt::join(kTop, ", ")));
    }
    key_lines.push_back(kv.first.Mark().line);
  }
  if (!root["version"] || !root["version"].IsScalar() || root["version"].as<std::string>() != "1") {
    reader.fail(root["version"] ? root["version"] : root, "'version: 1' is required (the only version there is)");
  }
  for (const char* side : {"source", "target"}) {
    if (auto node = root[side]) job->settings.push_back({side, {reader.connection(node, side)}, reader.at(node)});
  }
  if (auto selection = root["selection"]) reader.section(job->settings, selection, "selection", &kSelection);
  if (auto options = root["options"]) reader.section(job->settings, options, "options", nullptr);
  if (auto gate = root["go-no-go"]) reader.section(job->settings, gate, "go-no-go", &kGoNoGo);
  if (auto hooks = root["hooks"]) reader.section(job->settings, hooks, "hooks", &kHooks);
  for (const auto& kv : root) {  // the downtime window: --window, for plan and copy alike
    if (kv.first.as<std::string>() == "window") reader.add(job->settings, kv.first, kv.second);
  }
  if (auto mapping = root["mapping"]) {
    std::filesystem::path file;
    if (mapping.IsScalar()) {  // a path, read beside the job file wherever pgblit runs from
      file = mapping.as<std::string>();
      if (file.is_relative()) file = std::filesystem::path(job->path).parent_path() / file;
    } else {
      if (!mapping.IsMap()) reader.fail(mapping, "'mapping' is a path or the mapping itself (docs/mapping.md)");
      int key_line = 0, end = -1;
      for (const auto& kv : root) {
        if (kv.first.as<std::string>() == "mapping") key_line = kv.first.Mark().line;
      }
      for (int line : key_lines) {
        if (line > key_line && (end < 0 || line < end)) end = line;
      }
      std::string dir_template = (std::filesystem::temp_directory_path() / "pgblit-job-XXXXXX").string();
      if (mkdtemp(dir_template.data()) == nullptr) {
        throw Error(ErrorKind::Runtime, "cannot create a temporary folder for the job's inline mapping", dir_template,
                    "check TMPDIR");
      }
      file = std::filesystem::path(dir_template) / std::filesystem::path(path).filename();
      int first_line = mapping.Mark().line, first_column = mapping.Mark().column;
      std::ofstream(file) << inline_mapping_text(bytes, first_line, first_line == key_line ? first_column : 0, end);
      job->inline_mapping = file;
    }
    try {
      mapping::load_mapping(file.string());  // its mistakes named now, in the job file's lines
    } catch (const Error& e) {
      throw Error(e.kind(), job->in_job_terms(e.what()), job->path, e.hint());
    }
    job->settings.push_back({"mapping", {file.string()}, reader.at(mapping)});
  }
  return job;
}

void apply_job_file(const JobFile& job, CLI::App& command) {
  for (const auto& setting : job.settings) {
    CLI::Option* option = command.get_option_no_throw("--" + setting.flag);
    if (option == nullptr) continue;  // a copy-only setting, and this is plan
    if (option->count() > 0) {
      spdlog::debug("--{} from the command line wins over the job file's ({})", setting.flag, setting.where);
      continue;
    }
    try {
      option->add_result(setting.values);
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw usage_error(fmt::format("{}: {}: {}; nothing was done", setting.where, setting.flag, e.what()), job.path,
                        kHint);
    }
  }
}

void add_job_flag(CLI::App& command, std::string& file) {
  command.add_option("--job", file,
                     "a YAML job file: the connections (by service or environment variable name), the selection, "
                     "the mapping and any flag of pgblit copy by its long name; flags given here win over the file "
                     "(docs/job.md)");
}

}  // namespace pgblit::cli
