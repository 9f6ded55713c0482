import Foundation

/// Re-checks `condition` until it holds or `timeout` passes; for states that have no event to
/// wait on (a child process reaching a state). Returns whether it held.
public func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The `drover` executable built next to the test bundle.
public func droverExecutable() throws -> String {
    let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = testBinary.deletingLastPathComponent()
    // The test bundle may sit inside a `.xctest` directory.
    for _ in 0..<3 {
        let candidate = directory.appendingPathComponent("drover").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw ChildProcessError.spawnFailed("drover", "not built next to the tests; run `swift build` before `swift test`")
}

/// The root of this repository (the tests read its docker/ and openapi.yaml).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

extension Array {
    /// `map` with an async transform, one element after the other.
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
