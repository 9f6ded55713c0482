@_exported import DroverLocal

/// The tests' name for a private redis-server.
public typealias RedisServer = LocalRedis
