import Synchronization

/// A Lua script run by `EVALSHA`.
///
/// The SHA comes from the server's own `SCRIPT LOAD` the first time the script is used and is
/// remembered; a `NOSCRIPT` reply (Redis restarted, `SCRIPT FLUSH`) loads it again.
public final class RedisScript: Sendable {
    /// A short name for logs and errors.
    public let name: String
    public let source: String
    private let sha: Mutex<String?>

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha = Mutex(nil)
    }

    var loadedSHA: String? {
        get { sha.withLock { $0 } }
        set { sha.withLock { $0 = newValue } }
    }

    func command(sha: String, keys: [any RedisArgument], arguments: [any RedisArgument]) -> RedisCommand {
        RedisCommand("EVALSHA", [sha, keys.count] + keys + arguments)
    }

    /// One invocation of a script, for ``RedisClient/run(_:)-([RedisScript.Call])``.
    public struct Call: Sendable {
        public var script: RedisScript
        public var keys: [any RedisArgument]
        public var arguments: [any RedisArgument]

        public init(_ script: RedisScript, keys: [any RedisArgument], arguments: [any RedisArgument]) {
            self.script = script
            self.keys = keys
            self.arguments = arguments
        }
    }
}
