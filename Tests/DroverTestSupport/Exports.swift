@_exported import DroverLocalRedis
@_exported import DroverProcess

/// The tests' name for a private redis-server.
public typealias RedisServer = LocalRedis
