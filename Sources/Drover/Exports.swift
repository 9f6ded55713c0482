// `import Drover` is all an application needs: the job model, the stores and the client and
// worker come together.
@_exported import DroverCore
