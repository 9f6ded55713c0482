// `import Drover` is all an application needs: the job model, the Redis store, the
// maintenance duties, the client and the worker come together.
@_exported import DroverCore
@_exported import DroverMaintenance
@_exported import DroverRedisStore
