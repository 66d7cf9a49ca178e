# Stand-in for dracut's dracut-functions.sh (own code): kdumpctl sources
# "$dracutbasedir"/dracut-functions.sh; none of the functions recorded here
# needs anything from it.
:
