import DroverAPI
import DroverCore
import Foundation
import NIOSSL
import X509

/// Whoever sent a request, as far as the master could establish: the role its token grants
/// and the identities it proved, by its token and by its TLS client certificate.
///
/// An identity pins a remote worker to its own worker ids: it may act only as the worker
/// `NAME` or `anything@NAME`. Because a report is accepted only from the worker a job is
/// assigned to, a worker holding one identity cannot claim, complete or fail the jobs of a
/// worker that holds another.
public struct Caller: Sendable, Equatable {
    public var role: Role
    /// Names proved by this caller; each one must match a worker id the caller acts as.
    public var identities: [String]

    public init(role: Role, identities: [String] = []) {
        self.role = role
        self.identities = identities
    }

    /// Anyone, when auth is off: every operation, no identity.
    public static let anyone = Caller(role: .admin)

    /// Checks that this caller may make `request`: `403` when its role does not permit the
    /// operation or the request acts for a worker that is not this caller's.
    public func authorize(_ request: APIRequest) throws(APIError) {
        try authorize(request.operation)
        if let worker = request.workerID {
            for identity in identities where !Self.worker(worker, belongsTo: identity) {
                throw .forbidden("identity '\(identity)' may act only as worker '\(identity)' or '…@\(identity)', not '\(worker)'")
            }
        }
    }

    /// Checks that this caller's role permits `operation`: `403` when it does not.
    public func authorize(_ operation: APIOperation) throws(APIError) {
        guard role.permits(operation) else { throw .forbidden("a \(role.rawValue) token may not \(operation.rawValue)") }
    }

    static func worker(_ worker: String, belongsTo identity: String) -> Bool {
        worker == identity || worker.hasSuffix("@" + identity)
    }

    /// The identity a verified client certificate proves: its subject's common name, which
    /// must itself be a valid identity (letters, digits, `_`, `-`, `.`).
    static func identity(of certificate: NIOSSLCertificate) throws(APIError) -> String {
        guard let parsed = try? Certificate(derEncoded: certificate.toDERBytes()) else {
            throw .forbidden("the client certificate cannot be read")
        }
        for rdn in parsed.subject.reversed() {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                let name = String(describing: attribute.value)
                guard TokenAuthenticator.isValidIdentity(name) else {
                    throw .forbidden("the client certificate's common name is not a valid identity (letters, digits, '_', '-', '.')")
                }
                return name
            }
        }
        throw .forbidden("the client certificate has no common name to identify it")
    }
}

/// The tokens a master accepts, read from a file of `ROLE TOKEN [IDENTITY]` lines (`#` starts
/// a comment). Tokens are compared in constant time and never logged.
public struct TokenAuthenticator: Sendable {
    public struct Entry: Sendable {
        public var role: Role
        public var token: String
        /// Pins a worker token to its worker ids (see ``Caller``).
        public var identity: String?

        public init(role: Role, token: String, identity: String? = nil) {
            self.role = role
            self.token = token
            self.identity = identity
        }
    }

    private let entries: [(entry: Entry, bytes: [UInt8])]

    public init(entries: [Entry]) {
        self.entries = entries.map { ($0, Array($0.token.utf8)) }
    }

    public init(entries: [(Role, String)]) {
        self.init(entries: entries.map { Entry(role: $0.0, token: $0.1) })
    }

    /// Reads an auth file. Throws with the line number for anything that is not
    /// `ROLE TOKEN [IDENTITY]`.
    public init(contentsOf path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AuthFileError("cannot read the auth file \(path): \(error.localizedDescription)")
        }
        var entries: [Entry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            let parts = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard (2...3).contains(parts.count), let role = Role(rawValue: parts[0]) else {
                throw AuthFileError("\(path) line \(n + 1): expected 'ROLE TOKEN [IDENTITY]' with ROLE one of read, client, worker, admin")
            }
            guard parts[1].utf8.count >= 16 else {
                throw AuthFileError("\(path) line \(n + 1): a token must be at least 16 characters long")
            }
            if parts.count == 3, !Self.isValidIdentity(parts[2]) {
                throw AuthFileError("\(path) line \(n + 1): an identity is 1 to 64 letters, digits, '_', '-' or '.'")
            }
            entries.append(Entry(role: role, token: parts[1], identity: parts.count == 3 ? parts[2] : nil))
        }
        guard !entries.isEmpty else { throw AuthFileError("\(path) holds no tokens") }
        self.init(entries: entries)
    }

    static func isValidIdentity(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0))
            }
    }

    /// The caller `token` proves, or `nil`. Every entry is compared in full, whatever matches,
    /// so the time taken says nothing about which bytes were right.
    public func caller(for token: String) -> Caller? {
        let candidate = Array(token.utf8)
        var found: Entry?
        for (entry, bytes) in entries {
            if Self.constantTimeEquals(bytes, candidate), found.map({ $0.role < entry.role }) ?? true {
                found = entry
            }
        }
        return found.map { Caller(role: $0.role, identities: $0.identity.map { [$0] } ?? []) }
    }

    /// The role `token` grants, or `nil`.
    public func role(for token: String) -> Role? {
        caller(for: token)?.role
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

    /// The caller of a request bearing `token`: `401` without a valid token.
    public func authenticate(token: String?) throws(APIError) -> Caller {
        guard let token, !token.isEmpty else { throw .unauthorized("a bearer token is required") }
        guard let caller = caller(for: token) else { throw .unauthorized("the token is not valid") }
        return caller
    }

    /// Checks `token` for `operation`: `401` without a valid token, `403` when its role does not
    /// permit the operation.
    public func authorize(token: String?, operation: APIOperation) throws(APIError) -> Role {
        let caller = try authenticate(token: token)
        try caller.authorize(operation)
        return caller.role
    }
}

public struct AuthFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
