import DroverTestSupport
import Foundation
import Testing

/// There is no Docker engine to run them here, so the compose file and the Dockerfile are
/// checked for the topology they promise, with a real YAML parser.
@Suite struct DockerFilesTests {
    @Test func composeDescribesRedisWithAOFAMasterAndScalableWorkers() async throws {
        let compose = repositoryRoot.appendingPathComponent("docker/docker-compose.yml").path
        let check = """
            import json, sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            s = doc["services"]
            out = {
              "services": sorted(s),
              "aof": "--appendonly" in s["redis"]["command"] and s["redis"]["command"][s["redis"]["command"].index("--appendonly") + 1] == "yes",
              "redisVolume": any(v.startswith("redis-data:") for v in s["redis"].get("volumes", [])) and "redis-data" in doc.get("volumes", {}),
              "masterPorts": sorted(s["master"].get("ports", [])),
              "masterHealth": "/health" in " ".join(s["master"]["healthcheck"]["test"]),
              "masterCommand": s["master"]["command"],
              "workerCommand": s["worker"]["command"][0],
              "workerScalable": "ports" not in s["worker"] and "container_name" not in s["worker"],
              "redisURLs": [s[n]["environment"]["DROVER_REDIS_URL"] for n in ("master", "worker")],
            }
            print(json.dumps(out, sort_keys=True))
            """
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("check-compose-\(UUID().uuidString.prefix(6)).py").path
        try check.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let log = script + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let python = try ChildProcess(executable: try LocalRedis.findExecutable("python3"), arguments: [script, compose], logPath: log)
        #expect(await python.waitForExit(timeout: .seconds(30)) == 0, "\(python.output())")
        let result = python.output().trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(
            result
                == #"{"aof": true, "masterCommand": ["master"], "masterHealth": true, "masterPorts": ["7070:7070", "8080:8080"], "redisURLs": ["redis://redis:6379", "redis://redis:6379"], "redisVolume": true, "services": ["master", "redis", "worker"], "workerCommand": "worker", "workerScalable": true}"#,
            "\(result)")
    }

    @Test func theDockerfileBuildsInOneStageAndRunsSlimWithHiredis() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docker/Dockerfile"), encoding: .utf8)
        let stages = text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2)
        #expect(stages.first?.contains("swift:") == true && stages.first?.contains(" AS build") == true)
        #expect(stages.last?.contains("slim") == true)
        #expect(text.contains("libhiredis0.14"))
        #expect(text.contains("COPY --from=build"))
        #expect(text.contains(#"ENTRYPOINT ["drover"]"#))
    }
}
