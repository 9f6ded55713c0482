import DroverTLS

/// Where a Redis server is and how to log in: parsed from
/// `redis://[user:password@]host[:port][/db]`, `rediss://…` (the same over TLS) or
/// `unix:///path/to/redis.sock[?db=N]`.
///
/// A `rediss://` URL may name its PEM files in the query: `ca=` the CA that signed the
/// server's certificate (else the system's roots), and `cert=` with `key=` for a client
/// certificate, which Redis asks for unless it runs with `tls-auth-clients no`:
/// `rediss://worker:secret@redis.internal:6380?ca=/etc/drover/ca.pem&cert=/etc/drover/worker.pem&key=/etc/drover/worker.key`.
///
/// `redis+sentinel://[user:password@]s1:26379,s2:26379/mymaster[/db]` asks those Sentinels
/// which server is the primary named `mymaster`, connects to it, and asks again on every
/// reconnect, so a client follows a failover (see ``RedisClient``). The credentials are the
/// primary's; the Sentinels are asked without any.
///
/// `redis+cluster://[user:password@]h1:7000,h2:7001` is a Redis Cluster known by some of its
/// nodes (seeds): the client learns the rest from them and sends each command to the node
/// that owns its key's slot. A cluster has only database 0. `rediss+cluster://…` is the same
/// over TLS to every node, with the query of `rediss://`.
///
/// A password alone (`redis://:secret@host`) authenticates as Redis's default user.
/// Percent-escapes in the user and password are decoded, so `p%40ss` means `p@ss`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
        /// The primary named `primary`, wherever these Sentinels say it is now.
        case sentinel(nodes: [HostAndPort], primary: String)
        /// A Redis Cluster, found through these seed nodes.
        case cluster(nodes: [HostAndPort])
    }

    public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var endpoint: Endpoint
    public var user: String?
    public var password: String?
    public var database: Int
    /// TLS to Redis: set by `rediss://`; `nil` for plain TCP.
    public var tls: TLSFiles?

    public init(endpoint: Endpoint, user: String? = nil, password: String? = nil, database: Int = 0, tls: TLSFiles? = nil) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    public init(_ text: String) throws(RedisError) {
        if text.hasPrefix("unix://") {
            var rest = Substring(text.dropFirst("unix://".count))
            var database = 0
            if let q = rest.firstIndex(of: "?") {
                let query = rest[rest.index(after: q)...]
                rest = rest[..<q]
                for pair in query.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0] == "db", let db = Int(parts[1]), db >= 0 else {
                        throw .invalidURL("\(text): the only query parameter is db=N")
                    }
                    database = db
                }
            }
            guard rest.hasPrefix("/") else {
                throw .invalidURL("\(text): a unix socket URL needs an absolute path, as in unix:///run/redis.sock")
            }
            self.init(endpoint: .unixSocket(path: String(rest)), database: database)
            return
        }
        let scheme: String
        if text.hasPrefix("redis+sentinel://") {
            try self.init(sentinel: text)
            return
        } else if text.hasPrefix("redis+cluster://") || text.hasPrefix("rediss+cluster://") {
            try self.init(cluster: text)
            return
        } else if text.hasPrefix("redis://") {
            scheme = "redis://"
        } else if text.hasPrefix("rediss://") {
            scheme = "rediss://"
        } else {
            throw .invalidURL(
                "\(Self.withoutCredentials(text)): expected redis://host:port[/db], rediss://…, redis+sentinel://host:port,…/name, redis+cluster://host:port,… or unix:///path.sock"
            )
        }
        let shown = Self.withoutCredentials(text)
        var rest = Substring(text.dropFirst(scheme.count))
        var tls: TLSFiles? = scheme == "rediss://" ? TLSFiles() : nil
        if let q = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: q)...]
            rest = rest[..<q]
            guard tls != nil else { throw .invalidURL("\(shown): only rediss:// URLs take query parameters (ca, cert, key)") }
            tls = try Self.tlsFiles(query, in: shown)
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            (user, password) = try Self.credentials(rest[..<at], in: shown)
            rest = rest[rest.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw .invalidURL("\(shown): database must be a number, got '\(db)'") }
                database = n
            }
        }
        let node = try Self.hostAndPort(rest, defaultPort: 6379, in: shown)
        self.init(endpoint: .tcp(host: node.host, port: node.port), user: user, password: password, database: database, tls: tls)
    }

    /// `redis+sentinel://[user:password@]s1:26379,s2:26379/name[/db]`.
    private init(sentinel text: String) throws(RedisError) {
        let shown = Self.withoutCredentials(text)
        let (user, password, rest) = try Self.nodesURLParts(text, scheme: "redis+sentinel://", in: shown)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, !parts[1].isEmpty else {
            throw .invalidURL("\(shown): expected redis+sentinel://host:port[,host:port…]/primary-name[/db]")
        }
        var database = 0
        if parts.count == 3 {
            guard let n = Int(parts[2]), n >= 0 else { throw .invalidURL("\(shown): database must be a number, got '\(parts[2])'") }
            database = n
        }
        let nodes = try Self.nodes(parts[0], defaultPort: 26379, in: shown)
        guard !nodes.isEmpty else { throw .invalidURL("\(shown): name at least one Sentinel") }
        self.init(endpoint: .sentinel(nodes: nodes, primary: String(parts[1])), user: user, password: password, database: database)
    }

    /// `redis+cluster://[user:password@]h1:7000,h2:7001`, or `rediss+cluster://…[?ca=…&cert=…&key=…]`
    /// for TLS to every node.
    private init(cluster text: String) throws(RedisError) {
        let shown = Self.withoutCredentials(text)
        var text = text
        var tls: TLSFiles?
        let scheme = text.hasPrefix("rediss+cluster://") ? "rediss+cluster://" : "redis+cluster://"
        if scheme == "rediss+cluster://" {
            tls = TLSFiles()
            if let q = text.firstIndex(of: "?") {
                tls = try Self.tlsFiles(text[text.index(after: q)...], in: shown)
                text = String(text[..<q])
            }
        }
        var (user, password, rest) = try Self.nodesURLParts(text, scheme: scheme, in: shown)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else {
            throw .invalidURL("\(shown): a cluster has only database 0; expected redis+cluster://host:port[,host:port…]")
        }
        self.init(endpoint: .cluster(nodes: try Self.nodes(rest, defaultPort: 6379, in: shown)), user: user, password: password, tls: tls)
    }

    /// `ca=…&cert=…&key=…`: the PEM files of a TLS URL.
    private static func tlsFiles(_ query: Substring, in shown: String) throws(RedisError) -> TLSFiles {
        var tls = TLSFiles()
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[1].isEmpty else {
                throw .invalidURL("\(shown): expected NAME=VALUE in the query, got '\(pair)'")
            }
            let value = try percentDecoded(parts[1], in: shown)
            switch parts[0] {
            case "ca": tls.certificateAuthority = value
            case "cert": tls.certificate = value
            case "key": tls.key = value
            default: throw .invalidURL("\(shown): unknown query parameter '\(parts[0])'; TLS URLs take ca, cert and key")
            }
        }
        guard (tls.certificate == nil) == (tls.key == nil) else { throw .invalidURL("\(shown): cert= and key= go together") }
        return tls
    }

    /// The credentials of a URL naming several nodes (`scheme[user:password@]rest`), which
    /// takes no query, and the rest.
    private static func nodesURLParts(_ text: String, scheme: String, in shown: String) throws(RedisError) -> (
        user: String?, password: String?, rest: Substring
    ) {
        var rest = Substring(text.dropFirst(scheme.count))
        guard !rest.contains("?") else { throw .invalidURL("\(shown): \(scheme) takes no query parameters") }
        guard let at = rest.lastIndex(of: "@") else { return (nil, nil, rest) }
        let (user, password) = try credentials(rest[..<at], in: shown)
        rest = rest[rest.index(after: at)...]
        return (user, password, rest)
    }

    /// `host:port,host:port,…`.
    private static func nodes(_ text: Substring, defaultPort: Int, in shown: String) throws(RedisError) -> [HostAndPort] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { (node) throws(RedisError) in
            try hostAndPort(node, defaultPort: defaultPort, in: shown)
        }
    }

    /// `user:password`, `:password` or `password` (how many tools spell a password-only URL).
    private static func credentials(_ text: Substring, in shown: String) throws(RedisError) -> (String?, String?) {
        guard let colon = text.firstIndex(of: ":") else { return (nil, try percentDecoded(text, in: shown)) }
        let user = text[..<colon]
        return (user.isEmpty ? nil : try percentDecoded(user, in: shown), try percentDecoded(text[text.index(after: colon)...], in: shown))
    }

    /// `host`, `host:port`, `[::1]` or `[::1]:port`.
    private static func hostAndPort(_ text: Substring, defaultPort: Int, in shown: String) throws(RedisError) -> HostAndPort {
        var host = text
        var port = defaultPort
        if host.hasPrefix("[") {
            // IPv6 literal: [::1]:6379
            guard let close = host.firstIndex(of: "]") else { throw .invalidURL("\(shown): unclosed [ in host") }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else {
                    throw .invalidURL("\(shown): bad port after IPv6 host")
                }
                port = p
            }
        } else if let colon = host.lastIndex(of: ":") {
            let p = host[host.index(after: colon)...]
            guard let n = Int(p) else { throw .invalidURL("\(shown): port must be a number, got '\(p)'") }
            port = n
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw .invalidURL("\(shown): missing host") }
        guard (1...65535).contains(port) else { throw .invalidURL("\(shown): port \(port) is out of range") }
        return HostAndPort(host: String(host), port: port)
    }

    private static func percentDecoded(_ s: Substring, in text: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16)
                else { throw .invalidURL("\(text): bad percent-escape") }
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Error messages repeat the URL, but never its password.
    private static func withoutCredentials(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.firstIndex(of: ":") else { return text }
        return text[..<scheme] + "://***@" + text[text.index(after: at)...]
    }

    /// The URL with the password hidden, safe for logs.
    public var description: String {
        let db = database == 0 ? "" : "/\(database)"
        var credentials = ""
        if user != nil || password != nil {
            credentials = (user ?? "") + (password == nil ? "" : ":***") + "@"
        }
        switch endpoint {
        case .unixSocket(let path):
            return "unix://\(path)" + (database == 0 ? "" : "?db=\(database)")
        case .tcp(let host, let port):
            return (tls == nil ? "redis://" : "rediss://") + "\(credentials)\(HostAndPort(host: host, port: port))\(db)"
        case .sentinel(let nodes, let primary):
            return "redis+sentinel://\(credentials)\(nodes.map(\.description).joined(separator: ","))/\(primary)\(db)"
        case .cluster(let nodes):
            return (tls == nil ? "redis+cluster://" : "rediss+cluster://")
                + "\(credentials)\(nodes.map(\.description).joined(separator: ","))"
        }
    }
}
