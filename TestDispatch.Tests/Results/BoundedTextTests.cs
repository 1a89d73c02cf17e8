using TestDispatch.Engine.Results;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Unit")]
public class BoundedTextTests
{
    [Fact]
    public void A_short_text_is_kept_whole()
    {
        BoundedText text = new(4, 4);
        text.Append("abc");
        text.Append("defgh");

        Assert.Equal("abcdefgh", text.ToString());
    }

    [Fact]
    public void A_long_text_keeps_its_head_and_tail_and_says_how_much_was_cut()
    {
        BoundedText text = new(4, 4);
        foreach (string piece in new[] { "ab", "cdef", "ghijklmnopq", "r", "stu", "vwxyz" })
        {
            text.Append(piece);
        }

        Assert.Equal("abcd\n[… 18 characters cut …]\nwxyz", text.ToString());
    }

    [Fact]
    public void A_cut_never_splits_a_surrogate_pair()
    {
        string result = BoundedText.Clip("abc😀" + new string('x', 100) + "😀yz", 4, 3);

        Assert.Equal("abc\n[… 104 characters cut …]\nyz", result);
    }

    [Fact]
    public void A_gigabyte_of_text_costs_only_its_head_and_tail_and_the_marker_fits_its_reserved_length()
    {
        BoundedText text = new(1, 1);
        char[] mebibyte = new char[1 << 20];
        for (int i = 0; i < 1024; i++)
        {
            text.Append(mebibyte);
        }

        Assert.InRange(text.ToString().Length, 0, 2 + BoundedText.MarkerMaxLength);
    }
}
