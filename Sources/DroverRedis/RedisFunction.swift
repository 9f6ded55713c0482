/// A library of Lua functions loaded with `FUNCTION LOAD` (Redis 7.0 or later) and called with
/// `FCALL`.
///
/// Why functions and not `EVALSHA` scripts: a script's top level runs on every call, so shared
/// helpers and tables at the top of a script are rebuilt each time (for Drover's lifecycle
/// scripts that was about a quarter of a one-job call, counted with callgrind). A library's top
/// level runs once per load; each call runs only its function.
///
/// The library's name carries a hash of its source (`<prefix>_<16 hex digits>`), and so does
/// every function's (`<library>_<function>`): two versions of a program on one Redis during a
/// rolling upgrade each call their own code, and `FUNCTION LIST` shows which versions are
/// loaded. The library is loaded the first time a call finds its function missing (a new
/// server, a restart without persistence, `FUNCTION FLUSH`), with `REPLACE`, so processes
/// racing to load it do no harm.
public final class RedisFunctionLibrary: Sendable {
    /// `<prefix>_<hash of the source>`.
    public let name: String
    /// The whole `FUNCTION LOAD` text, shebang line included.
    public let source: String

    /// - Parameter body: Lua that defines locals and calls `redis.register_function` once for
    ///   each function, naming it `LIBRARY .. '_' .. name`; `LIBRARY` is defined before it.
    public init(prefix: String, body: String) {
        let name = "\(prefix)_\(Self.fnv1a(body))"
        self.name = name
        self.source = "#!lua name=\(name)\nlocal LIBRARY = '\(name)'\n" + body
    }

    /// A function this library registers.
    public func function(_ name: String) -> RedisFunction {
        RedisFunction(library: self, name: "\(self.name)_\(name)")
    }

    /// FNV-1a, 64 bits, in hex: stable across processes and machines, unlike `Hasher`.
    private static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// One function of a ``RedisFunctionLibrary``.
public struct RedisFunction: Sendable {
    public let library: RedisFunctionLibrary
    /// The name it is registered and called by.
    public let name: String

    func command(keys: [any RedisArgument], arguments: [any RedisArgument]) -> RedisCommand {
        RedisCommand("FCALL", [name, keys.count] + keys + arguments)
    }

    /// One invocation of a function, for ``RedisClient/run(_:)-([RedisFunction.Call])``.
    public struct Call: Sendable {
        public var function: RedisFunction
        public var keys: [any RedisArgument]
        public var arguments: [any RedisArgument]

        public init(_ function: RedisFunction, keys: [any RedisArgument], arguments: [any RedisArgument]) {
            self.function = function
            self.keys = keys
            self.arguments = arguments
        }
    }
}
