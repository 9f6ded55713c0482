import DroverAPI
import DroverRedis
import NIOCore

extension APIError {
    /// The API's view of any error a request met in the master: the store's and the HTTP
    /// server's errors, besides those ``APIError/init(_:)`` knows.
    init(inMaster error: any Error) {
        switch error {
        case let error as RedisError:
            self = .unavailable(error.description)
        case let error as NIOTooManyBytesError:
            // A request body over the master's limit.
            self = .tooLarge("the request body is over the limit of \(error.maxBytes.map(String.init) ?? "the") bytes")
        default:
            self.init(error)
        }
    }
}
