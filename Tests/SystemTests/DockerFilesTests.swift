import DroverTestSupport
import Foundation
import Testing

/// There is no Docker engine to run them here, so the compose file and the Dockerfile are
/// checked for the topology they promise, with a real YAML parser.
@Suite struct DockerFilesTests {
    /// Runs `check`, a Python script, with `file` as its argument; what it printed.
    static func runPython(_ check: String, on file: String) async throws -> String {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(UUID().uuidString.prefix(6)).py").path
        try check.write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let log = script + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let python = try ChildProcess(executable: try LocalRedis.findExecutable("python3"), arguments: [script, file], logPath: log)
        #expect(await python.waitForExit(timeout: .seconds(30)) == 0, "\(python.output())")
        return python.output().trimmingCharacters(in: .whitespacesAndNewlines)
    }

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
        let result = try await Self.runPython(check, on: compose)
        #expect(
            result
                == #"{"aof": true, "masterCommand": ["master"], "masterHealth": true, "masterPorts": ["7070:7070", "8080:8080"], "redisURLs": ["redis://redis:6379", "redis://redis:6379"], "redisVolume": true, "services": ["master", "redis", "worker"], "workerCommand": "worker", "workerScalable": true}"#,
            "\(result)")
    }

    @Test func theClusterComposeDescribesThreePrimariesWithAReplicaEach() async throws {
        let compose = repositoryRoot.appendingPathComponent("docker/docker-compose.cluster.yml").path
        let check = """
            import json, sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            s = doc["services"]
            nodes = sorted(n for n in s if n.startswith("redis-") and n != "redis-cluster-init")
            addresses = [s[n]["networks"]["redis"]["ipv4_address"] for n in nodes]
            init = " ".join(s["redis-cluster-init"]["command"])
            url = s["master"]["environment"]["DROVER_REDIS_URL"]
            out = {
              "nodes": len(nodes),
              "clusterMode": all(s[n]["command"][s[n]["command"].index("--cluster-enabled") + 1] == "yes" for n in nodes),
              "announced": all(s[n]["command"][s[n]["command"].index("--cluster-announce-ip") + 1] == a for n, a in zip(nodes, addresses)),
              "aof": all("--appendonly" in s[n]["command"] for n in nodes),
              "volumes": all(any(v.startswith(n + "-data:") for v in s[n]["volumes"]) for n in nodes),
              "createsWithOneReplicaEach": "--cluster-replicas 1" in init and all(a + ":6379" in init for a in addresses),
              "initOnce": "cluster_state:ok" in init,
              "seedsAreNodes": url.startswith("redis+cluster://") and all(seed.split(":")[0] in addresses for seed in url[len("redis+cluster://"):].split(",")),
              "sameEnvironment": s["worker"]["environment"] == {k: v for k, v in s["master"]["environment"].items() if k in s["worker"]["environment"]},
              "durability": s["worker"]["environment"]["DROVER_DURABILITY"],
              "startsAfterInit": s["master"]["depends_on"]["redis-cluster-init"]["condition"],
              "workerScalable": "ports" not in s["worker"] and "container_name" not in s["worker"],
            }
            print(json.dumps(out, sort_keys=True))
            """
        let result = try await Self.runPython(check, on: compose)
        #expect(
            result
                == #"{"announced": true, "aof": true, "clusterMode": true, "createsWithOneReplicaEach": true, "durability": "replica", "initOnce": true, "nodes": 6, "sameEnvironment": true, "seedsAreNodes": true, "startsAfterInit": "service_completed_successfully", "volumes": true, "workerScalable": true}"#,
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
