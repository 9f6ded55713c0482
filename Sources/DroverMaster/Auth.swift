import DroverCore
import Foundation

/// Who may do what: the roles a token grants.
public enum Role: String, Sendable, CaseIterable, Comparable {
    /// Submit jobs and read them, their queues and workers.
    case client
    /// Register, heartbeat, fetch and report: what a remote worker does.
    case worker
    /// Everything, dead letters and purges included.
    case admin

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Whether this role may perform `operation`.
    public func permits(_ operation: String) -> Bool {
        switch self {
        case .admin: true
        case .client: Self.clientOperations.contains(operation)
        case .worker: Self.workerOperations.contains(operation)
        }
    }

    static let clientOperations: Set<String> = ["submit", "submitBatch", "get", "queues", "jobs", "workers", "health", "metrics"]
    static let workerOperations: Set<String> = ["heartbeat", "claim", "start", "complete", "fail", "reconcile", "deregister", "health"]
}

/// The tokens a master accepts, read from a file of `ROLE TOKEN` lines (`#` starts a comment).
/// Tokens are compared in constant time and never logged.
public struct TokenAuthenticator: Sendable {
    private let entries: [(role: Role, token: [UInt8])]

    public init(entries: [(Role, String)]) {
        self.entries = entries.map { ($0.0, Array($0.1.utf8)) }
    }

    /// Reads an auth file. Throws with the line number for anything that is not `ROLE TOKEN`.
    public init(contentsOf path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AuthFileError("cannot read the auth file \(path): \(error.localizedDescription)")
        }
        var entries: [(Role, String)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let parts = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard parts.count == 2, let role = Role(rawValue: parts[0]) else {
                throw AuthFileError("\(path) line \(n + 1): expected 'ROLE TOKEN' with ROLE one of client, worker, admin")
            }
            guard parts[1].utf8.count >= 16 else {
                throw AuthFileError("\(path) line \(n + 1): a token must be at least 16 characters long")
            }
            entries.append((role, parts[1]))
        }
        guard !entries.isEmpty else { throw AuthFileError("\(path) holds no tokens") }
        self.init(entries: entries)
    }

    /// The role `token` grants, or `nil`. Every entry is compared in full, whatever matches, so
    /// the time taken says nothing about which bytes were right.
    public func role(for token: String) -> Role? {
        let candidate = Array(token.utf8)
        var found: Role?
        for entry in entries {
            if Self.constantTimeEquals(entry.token, candidate) {
                found = max(found ?? entry.role, entry.role)
            }
        }
        return found
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    /// Checks `token` for `operation`: `401` without a valid token, `403` when its role does not
    /// permit the operation.
    public func authorize(token: String?, operation: String) throws(APIError) -> Role {
        guard let token, !token.isEmpty else { throw .unauthorized("a bearer token is required") }
        guard let role = role(for: token) else { throw .unauthorized("the token is not valid") }
        guard role.permits(operation) else { throw .forbidden("a \(role.rawValue) token may not \(operation)") }
        return role
    }
}

public struct AuthFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
