// The dry run's estimate, kept for the copy that follows it. A DBA runs `pgblit plan` (the
// rehearsal's dry run, which measures the estimate with a few seconds of sample loads) and then
// `pgblit copy` of the same job: the copy must not pay for the probes again, and its report
// must compare what happened with what the DBA was told. So plan keeps its estimate in the run
// folder (`--run-dir`/estimates/KEY.json: a local file, nothing on either server), keyed by
// what is moved (both databases and the selected tables), and a copy of the same
// selection into the same database takes the latest one younger than kEstimateMaxAge. The
// phases are named as the copy's (load, rebuild, verify, analyze), so the report and the
// history lay them beside the actual ones.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace pgblit::report {

// An estimate older than this is not tonight's: the copy runs without one.
inline constexpr double kEstimateMaxAgeSeconds = 24 * 3600;

// What is moved: from which database into which (`databases`: each one's cluster and name, as
// the audit says them) and each selected table as "source -> target".
std::string estimate_key(const std::string& databases, std::vector<std::string> tables);

// `estimate`: the dry run's estimate (dryrun's to_json); `jobs`: the lanes it was measured
// with. Written atomically; returns the file. Throws std::exception when it cannot be written.
std::filesystem::path keep_estimate(const std::filesystem::path& run_dir, const std::string& key,
                                    const nlohmann::json& estimate, int jobs, const std::string& job_file);

// The kept estimate for `key`, as the copy records it (planned_at, age_seconds, jobs, seconds,
// low_seconds, high_seconds, basis, phases by the copy's names, file); null when there is none,
// it was not measured, it is older than kEstimateMaxAgeSeconds, or it cannot be read.
nlohmann::json kept_estimate(const std::filesystem::path& run_dir, const std::string& key);

// How far the actual time is from the estimate, as a share of the estimate (+0.12: 12% longer).
double estimate_error(double estimated_seconds, double actual_seconds);

}  // namespace pgblit::report
