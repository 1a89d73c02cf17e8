namespace TestDispatch.Tests.Support;

/// <summary>
/// The tests that use the Slurm cluster share one for the whole test run, and run one at a time: a test may stop the
/// controller or drain a node, and exclusive jobs need whole nodes. Other collections run alongside as usual.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SlurmCollection : ICollectionFixture<SlurmCluster>
{
    public const string Name = "slurm cluster";
}
