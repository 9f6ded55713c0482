import DroverRedis
import DroverTLS
import Foundation

/// Certificates made with `openssl` when first asked for, once per test process: a CA, a server
/// certificate for `localhost` and 127.0.0.1, client certificates whose common names are worker
/// identities, and a certificate from a second CA that nobody trusts.
public struct TestCertificates: Sendable {
    public let directory: String

    public var ca: String { directory + "/ca.pem" }
    public var server: TLSFiles { TLSFiles(certificate: directory + "/server.pem", key: directory + "/server.key") }
    /// The server's files plus the CA, for a server that requires client certificates.
    public var serverRequiringClients: TLSFiles {
        TLSFiles(certificate: directory + "/server.pem", key: directory + "/server.key", certificateAuthority: ca)
    }
    /// A client that checks the server against the CA and presents no certificate.
    public var anonymousClient: TLSFiles { TLSFiles(certificateAuthority: ca) }

    /// A client presenting the certificate whose common name is `name` (one of ``clientNames``).
    public func client(_ name: String) -> TLSFiles {
        TLSFiles(certificate: directory + "/\(name).pem", key: directory + "/\(name).key", certificateAuthority: ca)
    }

    /// A client presenting a certificate signed by a CA the server does not trust.
    public var roguesClient: TLSFiles {
        TLSFiles(certificate: directory + "/rogue.pem", key: directory + "/rogue.key", certificateAuthority: ca)
    }

    public static let clientNames = ["worker-a", "worker-b"]

    /// The certificates, made on first use by openssl on a thread of its own: key generation
    /// takes a while and must not hold up Swift's cooperative pool, which the tests share.
    public static func shared() async throws -> TestCertificates {
        try await made.value
    }

    private static let made = Task<TestCertificates, any Error> {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try make() }) }.start()
        }
    }

    private static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-certs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let openssl = try LocalRedis.findExecutable("openssl")
        func run(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TLSFilesError("openssl \(arguments.prefix(2).joined(separator: " ")) failed with status \(process.terminationStatus)")
            }
        }
        func authority(_ name: String) throws {
            try run([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj",
                "/CN=Drover test \(name)",
            ])
        }
        func issue(_ name: String, commonName: String, by ca: String, extensions: String) throws {
            try run([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(name).key", "-out",
                "\(name).csr", "-subj", "/CN=\(commonName)",
            ])
            try extensions.write(toFile: directory + "/\(name).ext", atomically: true, encoding: .utf8)
            try run([
                "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial", "-out", "\(name).pem",
                "-days", "2", "-extfile", "\(name).ext",
            ])
        }
        try authority("ca")
        try authority("rogue-ca")
        try issue(
            "server", commonName: "localhost", by: "ca",
            extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        for name in clientNames {
            try issue(name, commonName: name, by: "ca", extensions: "extendedKeyUsage=clientAuth\n")
        }
        try issue("rogue", commonName: "worker-a", by: "rogue-ca", extensions: "extendedKeyUsage=clientAuth\n")
        return TestCertificates(directory: directory)
    }
}
