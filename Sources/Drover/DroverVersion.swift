/// The Drover version, reported by workers in their heartbeat.
public enum DroverVersion {
    public static let current = "0.1.0"
}
