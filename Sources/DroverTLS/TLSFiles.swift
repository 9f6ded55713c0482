import NIOSSL

/// The PEM files of one side of a TLS connection: its own certificate chain and key, and the
/// CA certificates it trusts to sign the other side's.
///
/// One type for every TLS connection Drover makes or accepts — to Redis (`rediss://`), to a
/// master (`https://`, `tcps://`) and the master's own two doors — so every one of them is
/// configured, and fails to load, the same way.
public struct TLSFiles: Sendable, Equatable {
    /// This side's certificate chain (PEM), leaf first. A server needs one; a client presents
    /// one only for mutual TLS.
    public var certificate: String?
    /// The private key of `certificate` (PEM).
    public var key: String?
    /// CA certificates (PEM) trusted to sign the other side's certificate. A client without
    /// one trusts the system's roots; a server with one requires every client to present a
    /// certificate it signed (mutual TLS).
    public var certificateAuthority: String?

    public init(certificate: String? = nil, key: String? = nil, certificateAuthority: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.certificateAuthority = certificateAuthority
    }

    /// The configuration for connecting to a server: its certificate is checked against the CA
    /// (or the system's roots) and against the host name.
    public func clientConfiguration() throws(TLSFilesError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let certificateAuthority {
            configuration.trustRoots = .certificates(try Self.certificates(certificateAuthority, role: "CA"))
        }
        if let (chain, key) = try identity(required: false) {
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        return configuration
    }

    /// The configuration for accepting connections; with a CA, clients must present a
    /// certificate that it signed.
    public func serverConfiguration() throws(TLSFilesError) -> TLSConfiguration {
        guard let (chain, key) = try identity(required: true) else { throw TLSFilesError("a TLS server needs a certificate and a key") }
        var configuration: TLSConfiguration
        if let certificateAuthority {
            configuration = .makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
                trustRoots: .certificates(try Self.certificates(certificateAuthority, role: "client CA")))
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        }
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    private func identity(required: Bool) throws(TLSFilesError) -> ([NIOSSLCertificate], NIOSSLPrivateKey)? {
        switch (certificate, key) {
        case (nil, nil):
            if required { throw TLSFilesError("a certificate and a key are required") }
            return nil
        case (let certificate?, let key?):
            let chain = try Self.certificates(certificate, role: "certificate")
            do {
                return (chain, try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw TLSFilesError("cannot read the private key \(key): \(error)")
            }
        default:
            throw TLSFilesError("a certificate and its key go together: give both or neither")
        }
    }

    private static func certificates(_ path: String, role: String) throws(TLSFilesError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw TLSFilesError("cannot read the \(role) file \(path): \(error)")
        }
        guard !certificates.isEmpty else { throw TLSFilesError("the \(role) file \(path) holds no PEM certificate") }
        return certificates
    }
}

/// A TLS file that is missing, unreadable or not what it should be.
public struct TLSFilesError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
