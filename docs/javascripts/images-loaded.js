// Marks the page with how many of its pictures decoded, for the test that renders the
// site in headless Chromium (tests/test_docs.py).
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.setAttribute("data-images", String(images.length));
  document.body.setAttribute("data-images-loaded", String(images.filter(function (image) {
    return image.complete && image.naturalWidth > 0;
  }).length));
});
